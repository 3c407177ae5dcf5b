from __future__ import annotations

from django.urls import path

from relay import views

SESSION_ID = "<str:session_id>"

urlpatterns = [
    path("api/v1/sessions", views.create_session, name="create_session"),
    path(f"api/v1/sessions/{SESSION_ID}", views.session_status, name="session_status"),
    path(f"join/{SESSION_ID}", views.join_page, name="join"),
]
