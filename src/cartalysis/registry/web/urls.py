"""URL routes. Every route is listed in the authorisation test's policy table (``tests/registry/web``)."""

from django.contrib.auth import views as auth
from django.urls import path

from cartalysis.registry.web import views
from cartalysis.registry.web.lockout import LockoutAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth.LoginView.as_view(template_name="registry/login.html",
                                          authentication_form=LockoutAuthenticationForm), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password/", auth.PasswordChangeView.as_view(template_name="registry/password.html",
                                                      success_url="/password/done/"), name="password_change"),
    path("password/done/", auth.PasswordChangeDoneView.as_view(template_name="registry/password_done.html"),
         name="password_change_done"),
    path("registry.css", views.stylesheet, name="stylesheet"),
    path("patients/", views.patients, name="patients"),
    path("patients/<str:patient_id>/", views.patient, name="patient"),
    path("queries/<int:query_id>/answer/", views.answer_query, name="answer_query"),
    path("upload/", views.upload, name="upload"),
    path("coordinator/", views.coordinator, name="coordinator"),
]
