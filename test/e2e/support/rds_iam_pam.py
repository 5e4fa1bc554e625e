"""A PAM module (for Debian's libpam-python) that stands in for RDS's IAM check for MySQL.

MariaDB's `pam` authentication plugin with `pam_use_cleartext_plugin=ON` asks the client for its
clear-text password through the `mysql_clear_password` plugin, as RDS for MySQL does, and hands it to PAM.
This module answers PAM's password prompt with it and POSTs the user and that password (the RDS IAM
token) to the test's loopback verifier (http-iam-verifier.ts), which judges the token. It runs inside
the PAM stack because `pam_exec` passes at most 511 bytes of password and a token is over 1,000.

PAM service file line (written by mariadb.ts):
  auth required /lib/security/pam_python.so <this file> http://127.0.0.1:<port>/verify

Any failure (no verifier, bad answer) refuses the login. The token is never logged.
"""

import json
import urllib.request

TIMEOUT_SECONDS = 10
# Only a loopback verifier: the token must never leave the machine.
VERIFIER_PREFIX = "http://127.0.0.1:"


def _verifier_url(argv):
    if len(argv) < 2 or not argv[1].startswith(VERIFIER_PREFIX):
        raise ValueError("give the verifier URL (%s<port>/verify) after the module path" % VERIFIER_PREFIX)
    return argv[1]


def _password(pamh):
    if pamh.authtok:
        return pamh.authtok
    reply = pamh.conversation(pamh.Message(pamh.PAM_PROMPT_ECHO_OFF, "Password: "))
    return reply.resp or ""


def pam_sm_authenticate(pamh, flags, argv):
    try:
        body = json.dumps({"user": pamh.get_user(None) or "", "password": _password(pamh)}).encode()
        request = urllib.request.Request(
            _verifier_url(argv), data=body, headers={"content-type": "application/json"}, method="POST"
        )
        # No proxy from the environment: straight to loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            verdict = json.load(response)
        return pamh.PAM_SUCCESS if verdict.get("ok") is True else pamh.PAM_AUTH_ERR
    except Exception:  # noqa: BLE001 - a refusal, whatever went wrong (403 included)
        return pamh.PAM_AUTH_ERR


def pam_sm_setcred(pamh, flags, argv):
    return pamh.PAM_SUCCESS


def pam_sm_acct_mgmt(pamh, flags, argv):
    return pamh.PAM_SUCCESS
