#!/usr/bin/env python3
"""Independent synthetic patient population for Yichang (Hubei) and its registration
records at five facilities, with ground truth.  Stdlib only, deterministic per seed.

  python bench/independent_population/generate.py --people 20000 --seed 7 --out DIR

See README.md next to this file for the model and the error rates.
"""

import argparse
import csv
import os
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import names as N
from population import CUTOFF, YEAR, World, id_check

FACS = ("H001", "H002", "H003", "CS0001", "CS0002")
HOSP = ("H001", "H002", "H003")
# addr = P(full 湖北省宜昌市…, 宜昌市…, district…, town…, village/community…, missing)
FAC = {
    "H001": dict(
        live=2010,
        card=2015,
        p_card=0.70,
        id_adult=0.93,
        id_child=0.35,
        p15=0.03,
        typo=0.015,
        sex="男女",
        sex_miss=0,
        dob="-",
        dob_miss=0.004,
        trad=0,
        roman=0,
        pad=0,
        landline=0.03,
        ph_miss=0.015,
        ph_fmt=(0.9, 0.05, 0, 0.05),
        addr=(0.6, 0.2, 0.12, 0.03, 0.03, 0.02),
        abbr=0.2,
    ),
    "H002": dict(
        live=2008,
        card=2017,
        p_card=0.40,
        id_adult=0.85,
        id_child=0.30,
        p15=0.20,
        typo=0.02,
        sex="12",
        sex_miss=0.01,
        dob="",
        dob_miss=0.01,
        trad=0,
        roman=0.06,
        pad=0,
        landline=0.06,
        ph_miss=0.03,
        ph_fmt=(0.7, 0, 0.2, 0.1),
        addr=(0.5, 0.2, 0.2, 0.0, 0.07, 0.03),
        abbr=0.3,
    ),
    "H003": dict(
        live=2012,
        card=2016,
        p_card=0.50,
        id_adult=0.88,
        id_child=0.30,
        p15=0.05,
        typo=0.02,
        sex="男女",
        sex_miss=0.02,
        dob="-",
        dob_miss=0.01,
        trad=0.35,
        roman=0,
        pad=0,
        landline=0.08,
        ph_miss=0.03,
        ph_fmt=(0.85, 0.15, 0, 0),
        addr=(0.4, 0.1, 0.35, 0.0, 0.1, 0.05),
        abbr=0.6,
    ),
    "CS0001": dict(
        live=2016,
        card=2018,
        p_card=0.50,
        id_adult=0.90,
        id_child=0.50,
        p15=0.02,
        typo=0.02,
        sex="MF",
        sex_miss=0.01,
        dob="-",
        dob_miss=0.01,
        trad=0,
        roman=0,
        pad=0,
        landline=0.05,
        ph_miss=0.02,
        ph_fmt=(0.8, 0.2, 0, 0),
        addr=(0.3, 0.1, 0.3, 0.28, 0, 0.02),
        abbr=0.2,
    ),
    "CS0002": dict(
        live=2014,
        card=2020,
        p_card=0.10,
        id_adult=0.55,
        id_child=0.20,
        p15=0.12,
        typo=0.04,
        sex="男女",
        sex_miss=0.06,
        dob="",
        dob_miss=0.04,
        trad=0,
        roman=0,
        pad=0.15,
        landline=0.30,
        ph_miss=0.06,
        ph_fmt=(0.75, 0, 0.25, 0),
        addr=(0.15, 0.05, 0.15, 0.25, 0.35, 0.05),
        abbr=0.5,
    ),
}
ZONE_FAC = {  # relative chance that a resident of a zone uses a facility
    "A": dict(CS0001=5, H001=4, H002=1.5, H003=0.15, CS0002=0.05),
    "B": dict(H001=5, H002=2, CS0001=0.6, H003=0.2, CS0002=0.05),
    "C": dict(CS0002=8, H002=4, H001=2, H003=0.1, CS0001=0.1),
    "D": dict(H001=3, H002=3, H003=0.6, CS0001=0.15, CS0002=0.3),
    "E": dict(H003=6, H001=2.5, H002=0.8, CS0001=0.1, CS0002=0.1),
}
N_FAC = {
    "child": (0.5, 0.35, 0.12, 0.03),
    "adult": (0.52, 0.3, 0.13, 0.05),
    "old": (0.35, 0.35, 0.2, 0.1),
}


def plans(w, pop):
    r, plans = w.r, {}
    for p in pop:
        if p.twin in plans and r.random() < 0.75:  # twins brought in together
            plans[p] = [(f, d, ph) for f, d, ph in plans[p.twin]]
            continue
        age = YEAR - p.birth.year
        k = (
            1
            + r.choices(range(4), N_FAC["child" if age < 16 else "old" if age >= 65 else "adult"])[
                0
            ]
        )
        wt = defaultdict(float)
        for i, (_, hh) in enumerate(p.homes):
            for fy, a in hh.addrs:
                for f, x in ZONE_FAC[a["zone"]].items():
                    wt[f] += x * (1 if i == len(p.homes) - 1 else 0.5)
        facs = []
        while len(facs) < k:
            f = w.pick({f: x for f, x in wt.items() if f not in facs})
            facs.append(f)
        plan = []
        for f in facs:
            lo = max(date(FAC[f]["live"], 1, 1), p.birth)
            span = CUTOFF.toordinal() - lo.toordinal()
            u = max(r.random(), r.random()) if r.random() < 0.5 else r.random()
            plan.append([f, date.fromordinal(lo.toordinal() + int(u * span)), False])
        hosp = [x for x in plan if x[0] in HOSP and date(FAC[x[0]]["live"], 1, 1) <= p.birth]
        if p.birth.year >= 2010 and hosp and r.random() < 0.3:  # registered at birth, unnamed
            hosp[0][1], hosp[0][2] = min(p.birth + timedelta(days=r.randint(0, 3)), CUTOFF), True
        plans[p] = plan
    return plans


def record(w, p, f, d, placeholder):
    r, F, y = w.r, FAC[f], d.year
    age = y - p.birth.year - ((d.month, d.day) < (p.birth.month, p.birth.day))
    fl = set()
    # identity document
    if placeholder:
        idp = p.mother if r.random() < 0.3 else None
    elif r.random() < (
        F["id_child"] if age < 16 else F["id_adult"] * (0.75 if f in HOSP and y < 2015 else 1)
    ):
        idp = p
        if age < 14 and p.mother and r.random() < 0.05:
            idp = r.choice((p.mother, p.father))
            fl.add("guardian_id")
    else:
        idp = None
    card = idp is p and age >= 16 and y >= F["card"] and r.random() < F["p_card"]
    # name
    if placeholder:
        mn = p.mother.name
        if p.twin and p.twin.birth == p.birth:
            name = (
                mn + ("大宝", "小宝")[p.twin_no]
                if r.random() < 0.6
                else mn + ("之子", "之女")[p.sex == "F"] + "12"[p.twin_no]
            )
        else:
            name = r.choices(
                (mn + ("之子", "之女")[p.sex == "F"], p.sur + "宝宝", mn + "婴"), (0.6, 0.25, 0.15)
            )[0]
        fl.add("placeholder")
    else:
        sur, giv = p.sur, p.given
        if not card and r.random() < F["typo"]:
            chars = [i for i, c in enumerate(sur + giv) if c in N.HOMO]
            if chars:
                i = r.choice(chars)
                full = sur + giv
                full = full[:i] + r.choice(N.HOMO[full[i]]) + full[i + 1 :]
                sur, giv = full[: len(sur)], full[len(sur) :]
                fl.add("name_typo")
        name = sur + giv
        if not card and r.random() < F["trad"] and any(c in N.TRAD for c in name):
            name = "".join(N.TRAD.get(c, c) for c in name)
            fl.add("traditional")
        if r.random() < F["roman"]:
            sp = "".join(N.PINYIN[c] for c in p.sur).capitalize()
            gp = "".join(N.PINYIN[c] for c in p.given).capitalize()
            name = r.choices(
                (sp.upper() + " " + gp, sp + " " + gp, (sp + " " + gp).upper()), (0.5, 0.3, 0.2)
            )[0]
            fl.add("romanised")
        elif len(name) == 2 and r.random() < F["pad"]:
            name = name[0] + r.choice((" ", "  ", "\u3000")) + name[1]
    # ID number
    idn = ""
    if idp is not None:
        idn = idp.id18
        if not card:
            if idp.birth.year < 1985 and r.random() < (
                0.5 if f == "H002" and y < 2012 else F["p15"]
            ):
                idn = idn[:6] + idn[8:17]
                fl.add("id15")
            x = r.random()
            if x < 0.012:
                i = r.randrange(len(idn) - 1)
                idn = idn[:i] + r.choice("0123456789".replace(idn[i], "")) + idn[i + 1 :]
                fl.add("id_typo")
            elif x < 0.016:
                i = r.randrange(len(idn) - 2)
                if idn[i] != idn[i + 1]:
                    idn = idn[:i] + idn[i + 1] + idn[i] + idn[i + 2 :]
                    fl.add("id_typo")
            if idn.endswith("X") and r.random() < 0.3:
                idn = idn[:-1] + "x"
    # sex
    sex = p.sex
    if not card and r.random() < 0.003:
        sex = "F" if sex == "M" else "M"
    sex = "" if (not card and r.random() < F["sex_miss"]) else F["sex"][sex == "F"]
    # birth date
    dob = p.birth
    if not card:
        if p.dob_self and (idp is None or r.random() < 0.3) and r.random() < 0.7:
            dob = p.dob_self
            fl.add("lunar_dob")
        x = r.random()
        if x < 0.01 and dob.day <= 12 and dob.day != dob.month:
            dob = date(dob.year, dob.day, dob.month)
            fl.add("dob_swap")
        elif 0.01 <= x < 0.02:
            s = dob.strftime("%Y%m%d")
            i = r.choice((3, 7, 7, 6))
            for _ in range(10):
                t = s[:i] + r.choice("0123456789".replace(s[i], "")) + s[i + 1 :]
                try:
                    dob = date(int(t[:4]), int(t[4:6]), int(t[6:]))
                    fl.add("dob_digit")
                    break
                except ValueError:
                    pass
        elif 0.02 <= x < 0.05 and f == "CS0002" and age >= 70 and idp is None:
            dob = date(dob.year, 1, 1)
            fl.add("dob_jan1")
    dob = (
        ""
        if (not card and r.random() < F["dob_miss"])
        else dob.strftime("%Y{0}%m{0}%d".format(F["dob"]))
    )
    # phone
    hh = p.home_at(y)
    if (placeholder or age < 14) and p.mother:
        src = [x for x in ((p.mother, p.father) if r.random() < 0.8 else (p.father, p.mother)) if x]
    elif p.proxy and age >= 65:
        src = [p.proxy, p]
    elif r.random() < 0.05:
        sp = [m for m in hh.members if m is not p and m.kids and set(m.kids) & set(p.kids)]
        src = sp[:1] + [p]
    else:
        src = [p]
    owner = next((x for x in src if x.phone_at(y)), None)
    phone = owner.phone_at(y) if owner else None
    key = (owner.pid if owner else None, phone)
    if hh.landline and (phone is None or r.random() < F["landline"]):
        ll, key = hh.landline, ("landline", hh.landline)
        phone = r.choices((ll, ll.replace("-", ""), ll[5:]), (0.6, 0.2, 0.2))[0]
    elif phone:
        if r.random() < 0.008:
            i = r.randint(3, 10)
            phone = phone[:i] + r.choice("0123456789".replace(phone[i], "")) + phone[i + 1 :]
            fl.add("phone_typo")
        k = r.choices(range(4), F["ph_fmt"])[0]
        phone = (
            phone,
            phone[:3] + " " + phone[3:7] + " " + phone[7:],
            phone[:3] + "-" + phone[3:7] + "-" + phone[7:],
            r.choice(("+86 ", "+86", "86-")) + phone,
        )[k]
    if not phone or r.random() < F["ph_miss"]:
        phone, key = "", None
    a = hh.addr_at(y)
    return dict(
        name=name,
        gender=sex,
        birth_date=dob,
        id_system="",
        id_number=idn,
        phone=phone,
        address=render_addr(w, a, F),
        clinic=a["clinic"] if f == "CS0002" else 0,
        phone_key=key,
        addr_key=tuple(sorted(a.items())),
    ), fl


def render_addr(w, a, F):
    r = w.r
    lvl = r.choices(range(6), F["addr"])[0]
    if lvl == 5:
        return ""
    abbr = r.random() < F["abbr"]
    dist = N.DISTRICTS[a["dist"]][5] if abbr and "自治县" in a["dist"] else a["dist"]
    town = a["town"][:-2] if abbr and a["town"].endswith("街道") and r.random() < 0.5 else a["town"]
    unit = a["unit"]
    if a["urban"]:
        b, u, rm = a["bldg"], a["unit_no"], a["room"]
        place = a["estate"] or "%s%d号" % (a["road"], a["no"])
        tail = place + ("%d-%d-%d" % (b, u, rm) if abbr else "%d栋%d单元%d" % (b, u, rm))
        if a["estate"] and r.random() < 0.5:
            unit = ""
    else:
        g = a["group"]
        gs = r.choices(
            (
                "%d组" % g,
                (N.CN_NUM[g] if g <= 10 else "十" + N.CN_NUM[g - 10]) + "组",
                "%d队" % g,
                "第%d组" % g,
            ),
            (0.7, 0.15, 0.05, 0.1),
        )[0]
        tail = gs + ("%d号" % a["house"] if r.random() < 0.4 else "")
        if abbr and r.random() < 0.3:
            unit = unit[:-1]
    pre = (
        r.choices(("湖北省宜昌市", "湖北宜昌", "湖北省宜昌"), (0.85, 0.1, 0.05))[0],
        "宜昌市",
        "",
        "",
        "",
    )[lvl]
    return pre + "".join([dist, town, unit + tail][max(0, lvl - 2) :])


def source_ids(rows):
    """Facility-specific patient numbers, issued in registration order."""
    rows.sort(key=lambda x: (x["date"], x["pid"]))
    per = Counter()
    for x in rows:
        f, y = x["fac"], x["date"].year
        key = (f, y if f in ("H003", "CS0001") else x["clinic"] if f == "CS0002" else 0)
        per[key] += 1
        n = per[key]
        x["source_id"] = {
            "H001": "MZ%07d" % (100000 + n * 3),
            "H002": "%010d" % (20000 + n),
            "H003": "CY%02d%05d" % (y % 100, n),
            "CS0001": "JD%d-%05d" % (y, n),
            "CS0002": "WS%02d-%04d" % (x["clinic"], n),
        }[f]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    w = World(a.seed)
    while sum(p.alive for p in w.people) < a.people:
        w.founder_family()
    w.assign_phones()
    pop = [p for p in w.people if p.alive][: a.people]
    rows, flags = [], Counter()
    for p, plan in plans(w, pop).items():
        for f, d, ph in plan:
            rec, fl = record(w, p, f, d, ph)
            flags.update(fl)
            rec.update(fac=f, date=d, pid=p.pid, flags=fl)
            rows.append(rec)
    source_ids(rows)
    os.makedirs(a.out, exist_ok=True)
    cols = [
        "source_id",
        "name",
        "gender",
        "birth_date",
        "id_system",
        "id_number",
        "phone",
        "address",
    ]
    for f in FACS:
        with open(os.path.join(a.out, f + ".csv"), "w", newline="", encoding="utf-8") as fh:
            wr = csv.writer(fh, lineterminator="\n")
            wr.writerow(cols)
            for x in rows:
                if x["fac"] == f:
                    wr.writerow([x[c] for c in cols])
    with open(os.path.join(a.out, "truth.csv"), "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh, lineterminator="\n")
        wr.writerow(["facility", "source_id", "person_id"])
        for x in sorted(rows, key=lambda x: (FACS.index(x["fac"]), x["source_id"])):
            wr.writerow([x["fac"], x["source_id"], x["pid"]])
    summary(pop, rows, flags)


def summary(pop, rows, flags):
    n = len(rows)
    per_p = Counter(x["pid"] for x in rows)
    facs_of = defaultdict(set)
    for x in rows:
        facs_of[x["pid"]].add(x["fac"])
    inpop = {p.pid for p in pop}
    twins = [p for p in pop if p.twin and p.twin_no == 1 and p.twin.pid in inpop]
    same_fac = sum(bool(facs_of[p.pid] & facs_of[p.twin.pid]) for p in twins)
    ages = Counter(min((YEAR - p.birth.year) // 15, 4) for p in pop)
    ids = Counter(
        "none"
        if not x["id_number"]
        else "15-digit"
        if len(x["id_number"]) == 15
        else "18-valid"
        if id_check(x["id_number"][:17]) == x["id_number"][17].upper()
        else "18-bad-check"
        for x in rows
    )
    names_by = defaultdict(set)
    for p in pop:
        names_by[p.name].add(p.pid)
    shared = sum(len(v) for v in names_by.values() if len(v) > 1)
    ny = Counter((p.name, p.birth.year) for p in pop)
    print("persons: %d   rows: %d   rows/person: %.2f" % (len(pop), n, n / len(pop)))
    print("rows per facility:", dict(sorted(Counter(x["fac"] for x in rows).items())))
    print("facilities per person:", dict(sorted(Counter(per_p.values()).items())))
    print(
        "age bands (0-14,15-29,30-44,45-59,60+): %s"
        % [round(ages[i] / len(pop), 3) for i in range(5)]
    )
    print(
        "share 65+: %.3f   male share: %.3f"
        % (
            sum(YEAR - p.birth.year >= 65 for p in pop) / len(pop),
            sum(p.sex == "M" for p in pop) / len(pop),
        )
    )
    print("twin pairs: %d (both at a common facility: %d)" % (len(twins), same_fac))
    print(
        "rows with id_number: %.3f  %s"
        % (1 - ids["none"] / n, {k: round(v / n, 4) for k, v in sorted(ids.items())})
    )
    print(
        "persons sharing their exact full name with another person: %d (%.3f); same name+birth year pairs: %d"
        % (shared, shared / len(pop), sum(v * (v - 1) // 2 for v in ny.values()))
    )
    print(
        "top names:",
        [(k, len(v)) for k, v in sorted(names_by.items(), key=lambda kv: -len(kv[1]))[:8]],
    )
    print(
        "error/variant flags (share of rows):",
        {k: "%d (%.3f)" % (v, v / n) for k, v in sorted(flags.items())},
    )
    by_p = defaultdict(list)
    for x in rows:
        by_p[x["pid"]].append(x)
    multi = [v for v in by_p.values() if len(v) > 1]
    ph_diff = sum(len({x["phone_key"][1] for x in v if x["phone_key"]}) > 1 for v in multi)
    ad_diff = sum(len({x["addr_key"] for x in v}) > 1 for v in multi)
    users = defaultdict(set)
    for x in rows:
        if x["phone_key"]:
            users[x["phone_key"][1]].add(x["pid"])
    fam = sum(1 for x in rows if x["phone_key"] and x["phone_key"][0] not in (x["pid"], "landline"))
    print(
        "persons with >1 row: %d; of them with a different underlying phone across rows %.3f, "
        "different address (moved/married) %.3f"
        % (len(multi), ph_diff / len(multi), ad_diff / len(multi))
    )
    print(
        "rows carrying a family member's phone %.3f, a household landline %.3f; phone numbers shared by >1 "
        "person: %d (covering %d persons)"
        % (
            fam / n,
            sum(1 for x in rows if x["phone_key"] and x["phone_key"][0] == "landline") / n,
            sum(len(v) > 1 for v in users.values()),
            sum(len(v) for v in users.values() if len(v) > 1),
        )
    )
    print(
        "rows with empty phone %.3f, empty address %.3f, empty birth_date %.3f, empty gender %.3f"
        % tuple(
            sum(not x[c] for x in rows) / n for c in ("phone", "address", "birth_date", "gender")
        )
    )


if __name__ == "__main__":
    main()
