// SPDX-License-Identifier: MIT
#include "request.hpp"

#include "errors_stream.hpp"
#include "file_wrapper.hpp"
#include "input_stream.hpp"
#include "interpreter.hpp"
#include "responder.hpp"

namespace cppg::wsgi {

namespace {

enum class Outcome {
    kDone,        // the app gave its whole response
    kAppFailed,   // an exception (logged), or a broken protocol
    kClientGone,  // a write found the connection closed
    kHostRefused  // the host refused the response (it logged why)
};

// One request's Python objects and facts.
struct Call {
    Bridge& bridge;
    cppg_request_t* req;
    RequestFacts facts;
    Ref input, errors, responder;

    Response& response() { return response_of(responder.get()); }

    std::string where() const {
        return "[" + std::string(facts.request_id) + "] \"" + std::string(facts.method) + " " +
               std::string(facts.target) + "\"";
    }
};

// The exception being raised, logged with the request it broke. A body the host could not
// deliver is the client's doing: one line, the server answers 400/408/413.
void log_app_error(Call& c, std::string_view what) {
    const ModuleParts* parts = module_parts();
    if (parts && PyErr_ExceptionMatches(parts->body_error.get())) {
        log(CPPG_LOG_INFO, c.where() + ": request body: " + take_exception_line());
        return;
    }
    if (c.responder && c.response().error == CPPG_ECLOSED) {  // write() raised it: no app bug
        log(CPPG_LOG_INFO, c.where() + ": the client went away: " + take_exception_line());
        return;
    }
    log(CPPG_LOG_ERROR, c.where() + ": " + std::string(what) + "\n" + take_traceback());
}

Outcome app_error(Call& c, std::string_view what) {
    log_app_error(c, what);
    return Outcome::kAppFailed;
}

Outcome from_host(int rc) {
    if (rc == 0) return Outcome::kDone;
    return rc == CPPG_ECLOSED ? Outcome::kClientGone : Outcome::kHostRefused;
}

Outcome send_item(Call& c, PyObject* item) {
    if (!PyBytes_Check(item)) {
        PyErr_Format(PyExc_TypeError, "the app's iterable must yield bytes, not %.100s", Py_TYPE(item)->tp_name);
        return app_error(c, "bad response body");
    }
    if (PyBytes_GET_SIZE(item) == 0) return Outcome::kDone;
    if (!c.response().started) {
        PyErr_SetString(PyExc_AssertionError, "the app produced body bytes before calling start_response()");
        return app_error(c, "bad response");
    }
    return from_host(send_chunk(c.responder.get(), {PyBytes_AS_STRING(item), static_cast<size_t>(PyBytes_GET_SIZE(item))}));
}

// Chunk by chunk: each is sent before the next is asked for (PEP 3333), so a huge generator
// never sits in memory and a slow one (server-sent events) reaches the client as it goes. A
// list or tuple is all there already: its items are gathered and sent together.
Outcome iterate(Call& c, PyObject* result) {
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(result); ++i) {
            Ref item = Ref::borrow(PySequence_Fast_GET_ITEM(result, i));  // the list may change while the GIL is out
            if (Outcome o = send_item(c, item.get()); o != Outcome::kDone) return o;
        }
        return Outcome::kDone;
    }
    Ref it(PyObject_GetIter(result));
    if (!it) return app_error(c, "the app's result is not iterable");
    while (Ref item{PyIter_Next(it.get())}) {
        if (Outcome o = send_item(c, item.get()); o != Outcome::kDone) return o;
        if (int rc = send_now(c.responder.get()); rc != 0) return from_host(rc);
    }
    if (PyErr_Occurred()) return app_error(c, "Error handling request (in the response body)");
    return Outcome::kDone;
}

// result.close(), if it has one: exactly once, on every path. False when it raised.
bool close_result(Call& c, PyObject* result) {
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) || PyBytes_CheckExact(result)) return true;
    Ref close(PyObject_GetAttrString(result, "close"));
    if (!close && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        return true;
    }
    if (!close) {
        log_app_error(c, "Cannot look up the result's close()");
        return false;
    }
    if (Ref(PyObject_CallNoArgs(close.get()))) return true;
    log_app_error(c, "Error in the result's close()");
    return false;
}

bool make_objects(Call& c) {
    c.input.reset(new_input_stream(c.req, c.facts.content_length));
    c.errors.reset(new_errors_stream(c.facts.request_id));
    c.responder.reset(new_responder(c.req));
    return c.input && c.errors && c.responder;
}

bool set_request_id(const Call& c) {
    Ref id(PyUnicode_DecodeLatin1(c.facts.request_id.data(), static_cast<Py_ssize_t>(c.facts.request_id.size()), nullptr));
    Ref token(id ? PyContextVar_Set(c.bridge.module.request_id_var.get(), id.get()) : nullptr);
    return static_cast<bool>(token);
}

// Everything with Python, in the request's context.
Outcome run(Call& c) {
    if (!make_objects(c) || !set_request_id(c)) return app_error(c, "cannot prepare the request");
    Ref environ(c.bridge.environ.build(c.req, c.facts, c.input.get(), c.errors.get()));
    if (!environ) return app_error(c, "cannot build the environ");
    Ref result(PyObject_CallFunctionObjArgs(c.bridge.app.get(), environ.get(), c.responder.get(), nullptr));
    environ.reset();
    if (!result) return app_error(c, "Error handling request");
    Outcome outcome = Outcome::kDone;
    int sent = 0;
    if (send_file_wrapper(c.responder.get(), result.get(), c.bridge.module.file_wrapper.get(), sent))
        outcome = from_host(sent);
    else
        outcome = iterate(c, result.get());
    bool closed = close_result(c, result.get());
    result.reset();  // a generator's finally blocks run here, still in the request's context
    if (outcome == Outcome::kDone && !closed) outcome = Outcome::kAppFailed;
    if (outcome == Outcome::kDone && !c.response().started) {
        log(CPPG_LOG_ERROR, c.where() + ": the app returned without calling start_response()");
        outcome = Outcome::kAppFailed;
    }
    return outcome;
}

// After the GIL is given back: the last bytes, or what the host should do instead.
int conclude(Outcome outcome, Response& response, int body_error) {
    switch (outcome) {
        case Outcome::kDone:
            // The app mapped an unreadable body to its own 5xx (Flask does): the server's
            // 400/408/413 is the honest answer, as for C++ apps, while the host has nothing.
            if (body_error != 0 && body_error != CPPG_ECLOSED && !response.host_started && response.status_code() >= 500)
                return -1;
            response.committed = true;
            return flush_response(response) == 0 ? 0 : -1;
        case Outcome::kAppFailed:
            if (response.committed) flush_response(response);  // then the host closes the connection
            return -1;
        case Outcome::kClientGone:
        case Outcome::kHostRefused: return -1;
    }
    return -1;
}

}  // namespace

int handle_request(Bridge& bridge, cppg_request_t* req) {
    RequestGil gil;
    Call c{bridge, req, bridge.environ.facts(req), {}, {}, {}};
    // A fresh context per request: a context variable set by one request is never seen by
    // the next on this thread (Flask keeps its request and app contexts in them).
    Ref context(PyContext_New());
    if (!context || PyContext_Enter(context.get()) != 0) {
        log(CPPG_LOG_ERROR, c.where() + ": cannot enter a new context: " + take_traceback());
        return -1;
    }
    Outcome outcome = run(c);
    bridge.module_watch.report_new_modules();  // --reload: what this request imported
    Response response = c.responder ? take_response(c.responder.get()) : Response();
    int body_error = c.input ? input_stream_error(c.input.get()) : 0;
    if (c.input) end_input_stream(c.input.get());
    c.input.reset();
    c.errors.reset();
    c.responder.reset();
    if (PyContext_Exit(context.get()) != 0)
        log(CPPG_LOG_ERROR, c.where() + ": cannot leave the request's context: " + take_traceback());
    context.reset();
    gil.release();
    return conclude(outcome, response, body_error);
}

}  // namespace cppg::wsgi
