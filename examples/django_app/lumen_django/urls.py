"""The shop's pages, its static files and the Django admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve

from lumen_django import views
from lumen_django.settings import SITE

urlpatterns = [
    path("", views.home),
    path("photo/<str:slug>", views.photo),
    path("privacy", views.privacy),
    path("like/<str:slug>", views.like),
    path("collect", views.collect),
    path("collect/count", views.collect_count),
    path("admin/", admin.site.urls),
    # The example serves its few static files itself, under any server (runserver, uvicorn,
    # waitress) and with DEBUG off; a real site would use WhiteNoise or a web server.
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": SITE / "static"}),
]
