"""SMART App Launch, standalone patient access: public apps, the patient's login (resident ID and
a one-time code), the authorization-code grant with PKCE, and rotating refresh tokens.

See ``hub/auth/README-patient-login.md`` for the app's flow.
"""

from hub.auth.smart_app.clients import DEFAULT_APP_SCOPE, register_public_client
from hub.auth.smart_app.grants import APP_GRANT_TYPES
from hub.auth.smart_app.pkce import METHODS_SUPPORTED
from hub.auth.smart_app.views import app_token, router

__all__ = [
    "APP_GRANT_TYPES", "DEFAULT_APP_SCOPE", "METHODS_SUPPORTED", "app_token",
    "register_public_client", "router",
]  # fmt: skip
