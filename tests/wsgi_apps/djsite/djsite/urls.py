# SPDX-License-Identifier: MIT
from django.urls import path

from pages import views

urlpatterns = [
    path("", views.index),
    path("json/", views.as_json),
    path("form/", views.form),
    path("old/", views.old),
    path("download/", views.download),
    path("tail/", views.tail),
    path("stream/", views.stream),
    path("large/", views.large),
    path("post-only/", views.post_only),
    path("item/<int:number>/", views.item),
    path("upload/", views.upload),
]
