"""/sso/: the redirect URIs registered with the provider (docs/sso.md)."""

from __future__ import annotations

from django.urls import path

from sso import views

app_name = "sso"

urlpatterns = [
    path("login", views.sign_in, name="login"),
    path("authorization-code/callback", views.callback, name="callback"),
    path("logout", views.sign_out, name="logout"),
    path("return", views.return_page, name="return"),
]
