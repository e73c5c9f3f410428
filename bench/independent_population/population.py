"""Synthetic population of Yichang residents: households, family trees, IDs, phones.

Used by generate.py; see README.md for the model.
"""

import bisect
import random
from datetime import date, timedelta

import names as N

YEAR, CUTOFF = 2026, date(2026, 3, 31)
FOUNDER_ZONE = dict(A=0.12, B=0.24, C=0.22, D=0.23, E=0.19)
DIST_W = {
    "西陵区": 5,
    "伍家岗区": 2.5,
    "点军区": 1,
    "猇亭区": 0.6,
    "夷陵区": 4,
    "宜都市": 3.8,
    "当阳市": 4.3,
    "枝江市": 4.5,
    "远安县": 1.8,
    "兴山县": 1.6,
    "秭归县": 3.3,
    "长阳土家族自治县": 3.5,
    "五峰土家族自治县": 1.8,
}
MOBILE = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]


def id_check(body17):
    """ISO 7064 MOD 11-2 check character of a GB 11643 citizen ID."""
    s = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body17))
    return "10X98765432"[s % 11]


class Household:
    def __init__(self, addrs):
        self.addrs, self.members, self.landline = addrs, [], None

    def addr_at(self, y):
        return [a for fy, a in self.addrs if fy <= y][-1]


class Person:
    def __init__(self, pid, sur, given, sex, birth):
        self.pid, self.sur, self.given, self.sex, self.birth = pid, sur, given, sex, birth
        self.mother = self.father = self.twin = self.proxy = None
        self.kids, self.homes, self.phones, self.alive = [], [], [], True
        self.id18 = self.dob_self = None
        self.twin_no = 0

    @property
    def name(self):
        return self.sur + self.given

    def home_at(self, y):
        return [h for fy, h in self.homes if fy <= y or h is self.homes[0][1]][-1]

    def phone_at(self, y):
        p = [n for fy, n in self.phones if fy <= y]
        return p[-1] if p else None


class World:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.people, self.used_ids, self.used_phones = [], set(), set()
        self.geo = self._geography()

    # ---- helpers -------------------------------------------------------------------------
    def pick(self, d):
        keys = list(d)
        return self.r.choices(keys, weights=[d[k] for k in keys])[0]

    def rdate(self, lo, hi):
        return date.fromordinal(self.r.randint(lo.toordinal(), hi.toordinal()))

    def _geography(self):
        r, geo = self.r, {}
        for dist, (_, _, zone, _, towns, _) in N.DISTRICTS.items():
            for town in towns.split():
                z = (
                    "A"
                    if (dist, town) == N.CS0001_STREET
                    else "C"
                    if (dist, town) == N.CS0002_TOWN
                    else zone
                )
                urban = town.endswith("街道")
                if urban:
                    units = [s + "社区" for s in r.sample(N.COMMUNITY_STEM, 5)]
                else:
                    units = []
                    while len(units) < 7:
                        u = (
                            r.choice(N.SURNAMES[:40])[0] + "家" + r.choice(N.TERRAIN)
                            if r.random() < 0.5
                            else r.choice(N.VILLAGE_STEM)
                        ) + "村"
                        if u not in units and u not in N.CLAN_VILLAGES:
                            units.append(u)
                    if z == "C":
                        units = list(N.CLAN_VILLAGES) + units[:6]
                geo.setdefault(z, []).append((dist, town, urban, units))
        return geo

    def new_addr(self, zone, near=None, clan_ok=False):
        r = self.r
        if near and not near["urban"] and r.random() < 0.5:  # same village, another group/house
            return dict(near, group=r.randint(1, 12), house=r.randint(1, 60))
        towns = self.geo[zone]
        dist, town, urban, units = r.choices(towns, weights=[DIST_W[t[0]] for t in towns])[0]
        w = [(8 if clan_ok else 0) if u in N.CLAN_VILLAGES else 1 for u in units]
        unit = r.choices(units, weights=w)[0]
        a = dict(
            zone=zone,
            dist=dist,
            town=town,
            unit=unit,
            urban=urban,
            clinic=units.index(unit) + 1 if zone == "C" else 0,
        )
        if urban:
            a.update(
                road=r.choice(N.ROAD),
                no=r.randint(1, 300),
                estate=r.choice(N.ESTATE) if r.random() < 0.5 else None,
                bldg=r.randint(1, 30),
                unit_no=r.randint(1, 4),
                room=r.randint(1, 28) * 100 + r.randint(1, 4),
            )
        else:
            a.update(group=r.randint(1, 12), house=r.randint(1, 60))
        return a

    def new_household(self, zone, near=None, clan_ok=False):
        a = self.new_addr(zone, near, clan_ok)
        addrs = [(0, a)]
        if self.r.random() < 0.10:  # the household moved house between 2010 and 2024
            to = zone if self.r.random() < 0.5 else self.pick(dict(A=1, B=2))
            addrs.append((self.r.randint(2010, 2024), self.new_addr(to)))
        h = Household(addrs)
        if self.r.random() < (0.15 if a["urban"] else 0.35):
            h.landline = (
                "0717-" + str(self.r.choice((4, 6, 7, 8))) + "%06d" % self.r.randint(0, 999999)
            )
        return h

    def surname(self, zone):
        d = {s: w * (N.TUJIA_BOOST.get(s, 1) if zone == "E" else 1) for s, w in N.SURNAMES}
        return self.pick(d)

    def given(self, sex, y, gen_char=None):
        r, c = self.r, bisect.bisect(N.COHORT_EDGES, y)
        first, second = N.POOL[sex][c].split("|")
        if gen_char:  # generation character (字辈) shared by brothers / clan cousins
            return gen_char + r.choice(second.replace(gen_char, ""))
        x = r.random()
        if x < N.SINGLE_SHARE[c]:
            s = N.SINGLE[sex]
            return r.choices(s, weights=[(i + 1) ** -0.3 for i in range(len(s))])[0]
        if x < N.SINGLE_SHARE[c] + N.FIXED_SHARE[c]:
            return r.choice(N.FIXED[sex][c].split())
        b = r.choice(second)
        return (
            b + b
            if sex == "F" and c >= 3 and r.random() < 0.08
            else r.choice(first.replace(b, "")) + b
        )

    def twin_given(self, s1, s2, y):
        r, c = self.r, bisect.bisect(N.COHORT_EDGES, y)
        (f1, e1), (f2, e2), x = N.POOL[s1][c].split("|"), N.POOL[s2][c].split("|"), r.random()
        if x < 0.5:  # share the first character: 凯波 / 凯涛
            k = r.choice(f1)
            a, b = r.choice(e1.replace(k, "")), r.choice(e2.replace(k, ""))
            return (
                (k + a, k + b)
                if a != b
                else (k + a, k + r.choice(e2.replace(a, "").replace(k, "")))
            )
        if x < 0.65:  # share the second character: 文杰 / 武杰
            k = r.choice(e1)
            a, b = r.choice(f1.replace(k, "")), r.choice(f2.replace(k, ""))
            return (
                (a + k, b + k)
                if a != b
                else (a + k, r.choice(f2.replace(a, "").replace(k, "")) + k)
            )
        if x < 0.8 and c >= 3:
            return tuple(r.choice(N.TWIN_DOUBLED).split())
        g1, g2 = self.given(s1, y), self.given(s2, y)
        return (g1, g2) if g1 != g2 else (g1, g1[:-1] + r.choice(e2.replace(g1[-1], "")))

    def person(self, sur, given, sex, birth, born_home, region=None):
        p = Person("P%07d" % (len(self.people) + 1), sur, given, sex, birth)
        p.homes = [(birth.year, born_home)]
        born_home.members.append(p)
        if region is None:
            code, old = N.DISTRICTS[born_home.addr_at(birth.year)["dist"]][:2]
            region = old if old and birth.year < 2001 else code
        while True:
            body = (
                region
                + birth.strftime("%Y%m%d")
                + "%02d%d"
                % (
                    self.r.randint(0, 99),
                    self.r.choice((1, 3, 5, 7, 9) if sex == "M" else (0, 2, 4, 6, 8)),
                )
            )
            if body not in self.used_ids:
                break
        self.used_ids.add(body)
        p.id18 = body + id_check(body)
        age = YEAR - birth.year
        p.alive = self.r.random() < (
            0.99
            if age < 50
            else 0.97
            if age < 60
            else 0.92
            if age < 70
            else 0.8
            if age < 80
            else 0.5
            if age < 90
            else 0.15
            if age < 100
            else 0.02
        )
        if (
            birth.year < 1960 and self.r.random() < 0.2
        ):  # self-reported (lunar) birthday differs from the ID
            p.dob_self = birth - timedelta(days=self.r.randint(18, 50))
        self.people.append(p)
        return p

    def birth_in(self, y):
        return self.rdate(date(y, 1, 1), min(date(y, 12, 31), CUTOFF))

    # ---- families ------------------------------------------------------------------------
    def founder_family(self):
        r = self.r
        zone = self.pick(FOUNDER_ZONE)
        hh = self.new_household(zone, clan_ok=True)
        clan = N.CLAN_VILLAGES.get(hh.addrs[0][1]["unit"])
        hy = 1922 + int(46 * r.random() ** 0.75)
        sur = clan if clan and r.random() < 0.95 else self.surname(zone)
        hus = self.person(sur, self.given("M", hy), "M", self.birth_in(hy), hh)
        wife = self.spouse(hus, hh, hy + 22, zone)
        self.descend(hus, wife, hh, hy + 22, clan)

    def spouse(self, p, hh, mar_year, zone):
        r, sex = self.r, "F" if p.sex == "M" else "M"
        y = min(p.birth.year + (r.randint(-4, 1) if sex == "F" else r.randint(0, 4)), mar_year - 20)
        maiden = self.new_household(zone if r.random() < 0.6 else self.pick(FOUNDER_ZONE))
        region = r.choice(N.OUTSIDE_CODES) if r.random() < 0.15 else None
        s = self.person(
            self.surname(zone), self.given(sex, y), sex, self.birth_in(y), maiden, region
        )
        s.homes.append((mar_year, hh))
        hh.members.append(s)
        return s

    def descend(self, f, m, hh, mar_year, clan):
        r, mb = self.r, m.birth.year
        rural = not hh.addr_at(mar_year)["urban"]
        if mb < 1945:
            n = r.choices((2, 3, 4, 5, 6), (1, 2, 3, 2, 1))[0]
        elif mb < 1960:
            n = r.choices((1, 2, 3, 4), (1, 3, 3, 1))[0]
        elif mb < 1975:
            n = r.choices((1, 2, 3), (0.35, 0.55, 0.1) if rural else (0.85, 0.15, 0))[0]
        elif mb < 1990:
            n = r.choices((0, 1, 2), (0.03, 0.45, 0.52) if rural else (0.05, 0.7, 0.25))[0]
        else:
            n = r.choices((0, 1, 2, 3), (0.2, 0.5, 0.27, 0.03))[0]
        y = max(mar_year + r.randint(0, 2), mb + r.randint(20, 26 if rural else 30))
        c = bisect.bisect(N.COHORT_EDGES, y)
        gen = (
            N.CLAN_POEM[clan][c]
            if clan and r.random() < 0.7
            # clan generation poem (字辈)
            else (
                r.choice(N.POOL["M"][c].split("|")[0])
                if rural and y < 1995 and r.random() < 0.25
                else None
            )
        )
        kids = []
        for i in range(n):
            if y > CUTOFF.year:
                break
            bd = self.birth_in(y)
            sur = m.sur if i > 0 and r.random() < 0.05 else f.sur
            pm = 0.54 if 1985 <= y <= 2010 else 0.52  # sex ratio at birth
            if r.random() < (0.025 if y >= 1990 else 0.012):
                s1 = "M" if r.random() < pm else "F"
                s2 = s1 if r.random() < 0.65 else ("F" if s1 == "M" else "M")
                g1, g2 = self.twin_given(s1, s2, y)
                t = [self.person(sur, g, s, bd, hh) for g, s in ((g1, s1), (g2, s2))]
                t[0].twin, t[1].twin, t[1].twin_no = t[1], t[0], 1
                kids += t
            else:
                s = "M" if r.random() < pm else "F"
                kids.append(
                    self.person(sur, self.given(s, y, gen if s == "M" else None), s, bd, hh)
                )
            y += r.randint(2, 6)
        co_resident = False
        for k in kids:
            k.mother, k.father = m, f
            m.kids.append(k)
            f.kids.append(k)
        for k in kids:
            age = YEAR - k.birth.year
            if 1965 <= k.birth.year <= 2004 and r.random() < 0.35:
                k.alive = (
                    False  # moved away from Yichang (Wuhan, coast); elderly parents stay behind
                )
                continue
            if age < 21 or r.random() > min(0.95, (age - 20) / 11):
                continue
            my = k.birth.year + r.randint(21, min(age, 32))
            zone = hh.addr_at(my)["zone"]
            if k.sex == "M" and not co_resident and r.random() < (0.5 if rural else 0.25):
                co_resident, nh = True, hh
            else:
                x = r.random()
                nz = (
                    zone
                    if x < 0.55
                    else self.pick(dict(A=1, B=2))
                    if x < 0.9
                    else self.pick(FOUNDER_ZONE)
                )
                near = hh.addr_at(my) if nz == zone and not (clan and k.sex == "F") else None
                nh = self.new_household(nz, near)
                k.homes.append((my, nh))
                nh.members.append(k)
            sp = self.spouse(k, nh, my, zone)
            fa, mo = (k, sp) if k.sex == "M" else (sp, k)
            self.descend(fa, mo, nh, my, clan if nh is hh else None)

    # ---- phones --------------------------------------------------------------------------
    def mobile(self):
        while True:
            n = self.r.choice(MOBILE) + "%08d" % self.r.randint(0, 99999999)
            if n not in self.used_phones:
                self.used_phones.add(n)
                return n

    def assign_phones(self):
        r = self.r
        for p in self.people:
            by = p.birth.year
            if by < 1950 and r.random() > 0.45:
                continue
            start = r.randint(2008, 2018) if by < 1950 else max(2002, by + 15) + r.randint(0, 3)
            if start > YEAR:
                continue
            p.phones = [(start, self.mobile())]
            for y in range(start + 1, YEAR):
                if r.random() < 0.03:  # number changed (stale phones at earlier facilities)
                    p.phones.append((y, self.mobile()))
        for p in self.people:
            if p.birth.year <= 1955 and (not p.phones or r.random() < 0.5):
                hh = p.homes[-1][1]
                kids = [k for k in p.kids if k.phones and k.birth.year >= 1965]
                home = [k for k in kids if k in hh.members]
                if home or kids:
                    p.proxy = r.choice(
                        home or kids
                    )  # elderly parent registered under a child's phone

    # ---- registration records ------------------------------------------------------------
