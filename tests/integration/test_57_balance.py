# SPDX-License-Identifier: MIT
"""How connections are shared out between workers: a worker holding more connections than
its least loaded peer leaves new ones to the others, so a blocking app's requests do not
queue behind one busy worker while another has free threads."""
import collections
import unittest

from harness import ServerCase, connect, simple_request, HttpReader, T


class BalanceTest(ServerCase):
    def pid_of(self, sock):
        sock.sendall(simple_request("GET", "/pid", [("Host", "x")]))
        reader = HttpReader(sock, timeout=T(10))
        head = reader.read_head()
        self.assertEqual(head.status, 200)
        return int(reader.read_body(head).body)

    def test_keep_alive_connections_are_shared_out_evenly(self):
        server = self.start(["--workers", "4", "--threads", "2", "--keep-alive", "60"])
        workers = server.wait_workers(4)
        socks, pids = [], collections.Counter()
        try:
            for _ in range(8):  # one at a time: each is accepted and counted before the next
                socks.append(connect(server.port, timeout=T(10)))
                pids[self.pid_of(socks[-1])] += 1
        finally:
            for s in socks:
                s.close()
        self.assertEqual(sorted(pids), sorted(workers))
        self.assertEqual(sorted(pids.values()), [2, 2, 2, 2], pids)


if __name__ == "__main__":
    unittest.main()
