# SPDX-License-Identifier: MIT
"""djsite's views: a CSRF-protected form, FileResponse, StreamingHttpResponse, JSON,
redirects, 204, 404, 405 and a multipart upload."""

import hashlib
import os

from django.http import (FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse)
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

# The same file as the Flask app's (tests/wsgi_apps/files), committed with the tests.
REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "files", "report.txt")
REPORT = os.path.normpath(REPORT)
TAIL_FROM = 100


def index(request):
    return HttpResponse("Hello from Django")


def as_json(request):
    return JsonResponse({"path": request.path, "q": request.GET.get("q"), "method": request.method})


def form(request):
    if request.method == "POST":  # CsrfViewMiddleware checked the token before we got here
        return HttpResponse("Hello, %s" % request.POST.get("name", "-"))
    return render(request, "pages/form.html")


def old(request):
    return redirect("/form/")


def download(request):
    return FileResponse(open(REPORT, "rb"), as_attachment=True, filename="report.txt")


def tail(request):
    # The rest of a file from an offset (say, after a header the client already has). Django
    # hands the open file to the server's wsgi.file_wrapper as it is, at its position.
    f = open(REPORT, "rb")
    f.seek(TAIL_FROM)
    response = FileResponse(f, content_type="text/plain")
    response["Content-Length"] = os.path.getsize(REPORT) - TAIL_FROM
    return response


def stream(request):
    word = request.GET.get("word", "w")
    return StreamingHttpResponse(("%s-%d\n" % (word, i) for i in range(5)), content_type="text/plain")


def large(request):
    return HttpResponse(b"0123456789abcdef" * (128 << 10), content_type="application/octet-stream")


@require_POST
def post_only(request):
    return HttpResponse("posted")


@csrf_exempt  # an API endpoint
def item(request, number):
    if number > 10:
        raise Http404("no item %d" % number)
    if request.method == "DELETE":
        return HttpResponse(status=204)
    return JsonResponse({"item": number})


@csrf_exempt  # an API endpoint
@require_POST
def upload(request):
    # Django's multipart parser reads wsgi.input in chunks; past 2.5 MB a file goes to a
    # temporary file (TemporaryFileUploadHandler).
    files = {name: [f.size, hashlib.sha256(f.read()).hexdigest(), f.name] for name, f in request.FILES.items()}
    return JsonResponse({"fields": request.POST.dict(), "files": files})
