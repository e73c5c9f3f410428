"""The data steward's pages in Chromium: a steward opens the review queue, an item with its two
records side by side and the field weights behind the score, decides it by clicking, and reads
the person's history; each step checked through the stewardship API as well."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from hub.console.staff import StaffRole
from tests.browser.staff import Staff
from tests.integration import test_mpi_stewardship as mpi
from tests.integration.test_mpi_stewardship import Source

register = mpi.register  # facility systems registering Patients through the API (a fixture)
operator_api = mpi.steward  # the stewardship JSON API as an operator (a fixture)
Shoot = Callable[[Page, str], Path]


def test_a_steward_links_a_review_item_by_clicking(
    page: Page,
    operator_api: httpx.Client,
    register: Callable[..., Source],
    make_staff: Callable[..., Staff],
    sign_in: Callable[..., None],
    screenshot: Shoot,
) -> None:
    first, second = mpi.review_case(operator_api, register)
    item = mpi.review_of(operator_api, second, "open")
    steward = make_staff(StaffRole.data_steward, "HUB", "王数据管理员")

    sign_in(page, steward)
    expect(page).to_have_url(re.compile(r"/console/steward$"))
    expect(page.locator("#review-queue")).to_be_visible()
    screenshot(page, "steward-queue")

    page.goto(f"/console/steward/reviews/{item['id']}")
    expect(page.locator("#comparison tr[data-field=family_name]")).to_contain_text("exact")
    expect(page.locator("#comparison tr[data-field=phone]")).to_contain_text("different")
    expect(page.locator("section[data-record=source]")).to_contain_text("13700002222")
    expect(page.locator("section[data-record=candidate]")).to_contain_text("13900001111")
    screenshot(page, "steward-review")

    page.fill("#resolve textarea[name=reason]", "同一居民，电话和住址已变更")
    page.click("#resolve button[value=match]")
    expect(page.get_by_role("status")).to_have_text("已关联为同一人。")
    assert mpi.review_of(operator_api, second, "resolved")["resolution"] == "match"
    assert mpi.eid(operator_api, second) == mpi.eid(operator_api, first)

    page.goto(f"/console/steward/persons/{mpi.eid(operator_api, first)}")
    expect(page.locator("#sources")).to_contain_text(second.source_id)
    expect(page.locator("#history")).to_contain_text("同一居民，电话和住址已变更")
    screenshot(page, "steward-person")
