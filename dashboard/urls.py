from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views
from sso.gate import sso_in_use

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("live.json", views.live_json, name="live"),
    path("history.json", views.history_json, name="history"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<str:session_id>/", views.session_detail, name="session"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html", extra_context={"sso": sso_in_use}
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
