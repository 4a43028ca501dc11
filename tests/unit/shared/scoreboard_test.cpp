// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "shared/scoreboard.hpp"

using cppg::shared::Scoreboard;
using cppg::shared::WorkerSlot;

TEST_CASE("least_loaded_peer sees the other accepting workers only") {
    Scoreboard board(8);
    WorkerSlot* a = board.claim(101);
    WorkerSlot* b = board.claim(102);
    WorkerSlot* c = board.claim(103);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    int64_t now = cppg::shared::monotonic_ms();
    CHECK(a->least_loaded_peer(now) == -1);  // nobody accepts yet (booting)

    a->open_connections = 5;
    b->open_connections = 7;
    c->open_connections = 3;
    CHECK(a->least_loaded_peer(now) == 3);
    CHECK(c->least_loaded_peer(now) == 5);  // its own count is not a peer's

    c->open_connections = -1;  // stopping, or inside an app call on its loop thread
    CHECK(a->least_loaded_peer(now) == 7);

    c->open_connections = 1;
    c->beat_ms = now - cppg::shared::kStaleBeatMs - 1;  // its loop is stuck
    CHECK(a->least_loaded_peer(now) == 7);

    board.release(b);  // a dead worker's stale count no longer counts
    CHECK(a->least_loaded_peer(now) == -1);
}

TEST_CASE("a slot claimed again starts as not accepting") {
    Scoreboard board(2);
    WorkerSlot* a = board.claim(1);
    a->open_connections = 4;
    board.release(a);
    WorkerSlot* again = board.claim(2);
    CHECK(again == a);
    CHECK(again->open_connections == -1);
}
