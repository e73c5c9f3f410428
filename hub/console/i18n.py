"""The console's words in Chinese (zh-CN, the default) and English.

Each area registers its own messages (``register_messages``) next to its pages, so areas do
not share one long file; a key registered twice with other words is a programming error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
Translate = Callable[..., str]

_MESSAGES: dict[str, tuple[str, str]] = {}  # key -> (zh-CN, en)


def register_messages(messages: Mapping[str, tuple[str, str]]) -> None:
    for key, words in messages.items():
        known = _MESSAGES.get(key)
        if known is not None and known != words:
            raise ValueError(f"console message {key!r} is registered twice with other words")
        _MESSAGES[key] = words


def translator(language: str) -> Translate:
    """``t(key, **values)``: the words of ``key`` in ``language``, values filled in."""
    index = 1 if language == "en" else 0

    def t(key: str, **values: object) -> str:
        words = _MESSAGES.get(key)
        text = words[index] if words is not None else key
        return text.format(**values) if values else text

    return t


def pick_language(requested: str | None, accept_language: str | None = None) -> str:
    """A supported language: the one asked for, else the browser's first known, else zh-CN."""
    if requested in LANGUAGES:
        return requested
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


register_messages(
    {
        "app.title": ("宜昌区域卫生信息平台", "Yichang Regional Health Hub"),
        "app.console": ("工作台", "Console"),
        "nav.signout": ("退出", "Sign out"),
        "nav.language": ("English", "中文"),
        "login.title": ("员工登录", "Staff sign-in"),
        "login.username": ("用户名", "User name"),
        "login.password": ("密码", "Password"),
        "login.code": ("动态验证码（稽核、运维必填）", "Authenticator code (auditors, operators)"),
        "login.submit": ("登录", "Sign in"),
        "login.bad-credentials": ("用户名或密码错误。", "Wrong user name or password."),
        "login.locked": (
            "登录失败次数过多，账户已锁定，请稍后再试。",
            "Too many failed sign-ins: the account is locked for a while.",
        ),
        "login.disabled": ("该账户已停用。", "This account is disabled."),
        "login.code-required": ("请输入动态验证码。", "Enter the code from your authenticator."),
        "login.bad-code": ("动态验证码错误。", "Wrong authenticator code."),
        "login.expired": (
            "长时间未操作，会话已过期，请重新登录。",
            "Your session expired after a period of inactivity; sign in again.",
        ),
        "login.oidc": ("使用本地区统一身份认证登录", "Sign in with the region's identity provider"),
        "login.oidc-failed": (
            "统一身份认证登录未成功，请重试或使用账户密码登录。",
            "Sign-in through the identity provider failed; try again or use your password.",
        ),
        "login.continue": ("登录成功，正在进入……", "Signed in; continuing to"),
        "login.signed-out": ("已退出。", "You are signed out."),
        "login.csrf": (
            "表单已失效，请重新提交。",
            "The form expired; submit it again.",
        ),
        "error.title": ("无法完成", "Not possible"),
        "error.forbidden": ("您无权访问此页面。", "You may not open this page."),
        "error.csrf": (
            "表单校验失败（缺少或错误的 CSRF 令牌），未做任何更改。",
            "The form's CSRF token is missing or wrong: nothing was changed.",
        ),
        "error.not-found": ("未找到，或您无权查看。", "Not found, or not yours to see."),
        "error.invalid": ("输入有误。", "The input is not valid."),
        "error.conflict": (
            "该记录已被他人更改或当前状态不允许此操作，未做任何更改。",
            "The record changed meanwhile, or its state does not allow this: nothing was changed.",
        ),
        "error.failed": ("操作未能完成。", "The request could not be completed."),
        "error.back": ("返回", "Back"),
        "account.title": ("我的账户", "My account"),
        "account.role": ("角色", "Role"),
        "account.facility": ("所属机构", "Facility"),
        "role.practitioner": ("医生", "Practitioner"),
        "role.referral-desk": ("转诊服务台", "Referral desk"),
        "role.data-steward": ("数据管理员", "Data steward"),
        "role.auditor": ("医保稽核", "Insurance auditor"),
        "role.operator": ("运维", "Operator"),
    }
)
