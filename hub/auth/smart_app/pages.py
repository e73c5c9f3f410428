"""The login pages: server-rendered HTML, every value escaped, no script."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1>{problem}{body}</main></body></html>"""

_FORM = """<form method="post" action="{action}">
<input type="hidden" name="login_request" value="{login_request}">
<input type="hidden" name="csrf_token" value="{csrf_token}">
<label>{label} <input name="{field}" {attributes} required></label>
<button type="submit">{button}</button>
</form>"""


def _page(title: str, body: str, problem: str | None) -> str:
    shown = f'<p role="alert">{escape(problem)}</p>' if problem else ""
    return _PAGE.format(title=escape(title), problem=shown, body=body)


def _form(action: str, login_request: str, csrf_token: str, **parts: str) -> str:
    return _FORM.format(
        action=escape(action),
        login_request=escape(login_request),
        csrf_token=escape(csrf_token),
        **parts,
    )


def resident_id_page(login_request: str, csrf_token: str, problem: str | None = None) -> str:
    form = _form(
        "/auth/login/code",
        login_request,
        csrf_token,
        label="居民身份证号码 Resident ID",
        field="resident_id",
        attributes='autocomplete="off" maxlength="18"',
        button="发送验证码 Send code",
    )
    return _page("患者登录 Patient login", form, problem)


def code_page(login_request: str, csrf_token: str, problem: str | None = None) -> str:
    form = _form(
        "/auth/login/verify",
        login_request,
        csrf_token,
        label="验证码 One-time code",
        field="code",
        attributes='autocomplete="one-time-code" inputmode="numeric" maxlength="6"',
        button="登录 Log in",
    )
    note = "<p>If the ID is registered, a code was sent to its phone.</p>"
    return _page("输入验证码 Enter the code", note + form, problem)


def error_page(error: str, description: str) -> str:
    return _page("登录失败 Login refused", f"<p><code>{escape(error)}</code></p>", description)
