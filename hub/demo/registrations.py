"""The synthetic population as the facilities registered it: desk errors, with the ground truth.

Each resident of :func:`hub.demo.population.generate_residents` is registered at one to six
facilities, mostly near home (hospitals often; village clinics, township centres and
pharmacies too). Every registration is a :class:`SourceRecord`: the fields as the desk typed
them, plus truth that never goes into a facility's file (``person_key``, ``person``,
``errors``, ``hard_negative``, ``counterpart``). The desk errors and their rates are data
(:class:`ErrorRates`); homophones keep the toneless pinyin, mistyped numbers fail the check
digit or swap two neighbours. Hard non-matches are made on purpose: twins (same family name,
birth date, address and phone; consecutive ID sequences) and namesakes (the same full name,
born the same year in the same district). One ``seed`` always gives the same records, and
records are streamed: memory grows only with a set of issued ID numbers.
"""

from __future__ import annotations

import random
import re
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from itertools import accumulate
from typing import Generic, TypeVar

from hub.demo.population import DISTRICTS, LAST_BIRTH_DATE, Resident, generate_residents
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching import make_resident_id
from hub.region.facilities import Facility, FacilityKind, load_facilities

# Share of people registered at 1, 2, ... 6 facilities: a mean of about 2.5.
DEFAULT_RECORDS_PER_PERSON = (0.27, 0.30, 0.20, 0.12, 0.07, 0.04)
TWIN_SHARE = 0.015  # of people: a twin pair starts here
NAMESAKE_SHARE = 0.015  # of people: another person with the same name, year and district


class DeskError(StrEnum):
    HOMOPHONE_FAMILY = "homophone_family"
    HOMOPHONE_GIVEN = "homophone_given"
    TRADITIONAL = "traditional"
    ROMANISED = "romanised"
    ID_MISSING = "id_missing"
    ID_ONE_DIGIT = "id_one_digit"
    ID_TRANSPOSED = "id_transposed"
    ID_LEGACY15 = "id_legacy15"
    BIRTH_DAY_MONTH_SWAPPED = "birth_day_month_swapped"
    BIRTH_OFF_BY_ONE = "birth_off_by_one"
    BIRTH_COMPACT = "birth_compact"
    GENDER_WRONG = "gender_wrong"
    PHONE_CHANGED = "phone_changed"
    PHONE_MISSING = "phone_missing"
    ADDRESS_TOWNSHIP_ONLY = "address_township_only"
    ADDRESS_ABBREVIATED = "address_abbreviated"
    ADDRESS_MOVED = "address_moved"
    WHITESPACE = "whitespace"


class HardNegative(StrEnum):
    TWIN = "twin"
    COMMON_NAME = "common_name"


@dataclass(frozen=True)
class ErrorRates:
    """Probability of each desk error per registration (where it can apply at all)."""

    homophone: float = 0.04  # one character of the family or given name
    traditional: float = 0.015  # the name typed in traditional characters
    romanised_foreign_desk: float = 0.40  # at foreign-facing desks (see ``foreign_facing``)
    romanised_other: float = 0.002
    id_missing_primary: float = 0.15  # village clinics and pharmacies
    id_missing_other: float = 0.02
    id_one_digit: float = 0.015
    id_transposed: float = 0.008
    id_legacy15_old: float = 0.15  # people born before 1960: the first-generation number
    birth_day_month_swapped: float = 0.04  # only when the day is 12 or less (and not the month)
    birth_off_by_one: float = 0.008
    birth_compact: float = 0.03  # YYYYMMDD
    gender_wrong: float = 0.003
    phone_missing: float = 0.04
    phone_changed: float = 0.05
    address_township_only: float = 0.03
    address_abbreviated: float = 0.03
    address_moved: float = 0.03  # to another house in the same district
    whitespace: float = 0.03


@dataclass(frozen=True, slots=True)
class SourceRecord:
    facility_code: str
    source_id: str  # the facility's local patient number
    person_key: int  # truth: who this is (never in the facility's file)
    name: str
    family_name: str
    given_name: str
    gender: str
    birth_date: str
    id_system: str
    id_number: str
    phone: str
    address: str
    postal_code: str
    errors: tuple[str, ...]  # truth: the desk errors applied
    person: Resident  # truth: the person as they are
    hard_negative: str = ""  # truth: HardNegative value if a look-alike person exists
    counterpart: int | None = None  # truth: the look-alike's person key


def person_id(person_key: int) -> str:
    """The stable synthetic person id written to the truth file, e.g. ``P0000123``."""
    return f"P{person_key:07d}"


def foreign_facing(facility: Facility) -> bool:
    """Desks that often take names romanised (international clinic, private dental and eye)."""
    return any(marker in facility.name for marker in ("仁和", "口腔", "眼科"))


# Characters with the same toneless pinyin (checked with pypinyin); no polyphonic surnames.
_HOMOPHONES = """
张章 王汪望 李黎 刘柳 杨阳扬洋 吴伍武 徐许 朱祝 何贺 余于俞喻玉钰雨宇语 肖萧 向项
程成诚承 袁元 龚宫 卢鲁陆 唐汤 冯丰凤峰锋 付傅符福富 魏卫韦伟玮炜 严颜阎燕艳雁妍嫣 谭谈
姚尧 方房芳 熊雄 彭蓬 高郜 郭国 罗骆 周舟 赵照 胡湖 宋颂 韩寒涵晗函 杜度 夏霞 蔡才 梅眉玫
田甜天添 雷蕾磊垒 钟忠 江姜蒋 石史施诗 秦琴 金靳锦瑾谨 戴代 顾谷 陶桃 柯科可 毛茅 尹殷 甘干
崔翠萃 邵绍 孟梦 龙隆 乔桥 邱秋 赖来 文温 苏素 吕旅 任仁 薛雪学 董东冬 洪红虹鸿宏 淑书舒 涂屠
沈申 钱前 梁良 冉然 陈晨辰宸 建剑健 华桦骅花 强蔷 志智治芷 德得 明铭鸣 永勇咏 家佳嘉 宝保 光广
春椿 生升 林琳霖 义毅艺怡宜奕逸一依伊易 郑正政 清青晴庆 新欣鑫馨心 民敏珉 军君俊骏 贵桂 山珊
秀绣 英瑛莹颖 兰岚 珍贞振震 刚钢 涛韬 平萍 斌彬 晓筱小 波博 杰洁捷 超潮 鹏朋 辉慧惠晖
丽莉俐立力 娟鹃 彩采 爱艾 静靖婧晶菁 玲铃凌 婷亭庭 浩昊皓豪 航杭 子梓紫 飞菲 轩萱宣 思斯
瑶遥 琪琦淇祺 倩芊 丹旦 悦月越玥 璐露 睿瑞锐 泽择 墨默 哲喆 桐彤童 汐曦希熙 凯恺楷 沐牧慕
黄皇 马玛 邓登 潘攀 叶业 侯候 丁鼎 廖寥 段断 常尝 兵冰 守寿
"""
# Simplified -> traditional, for the characters that differ.
_TRADITIONAL = """
陈陳 刘劉 张張 杨楊 黄黃 赵趙 吴吳 孙孫 马馬 罗羅 郑鄭 谢謝 冯馮 邓鄧 许許 龚龔 萧蕭 韩韓 汤湯
钟鍾 叶葉 陆陸 贾賈 顾顧 龙龍 苏蘇 阎閻 钱錢 卢盧 严嚴 谭譚 聂聶 蒋蔣 邹鄒 贺賀 鲁魯 乔喬 赖賴
韦韋 万萬 欧歐 阳陽 诸諸 单單 区區 国國 华華 强強 宝寶 长長 义義 学學 贵貴 兰蘭 凤鳳 红紅 丽麗
晓曉 爱愛 艳艷 静靜 卫衛 东東 庆慶 涛濤 军軍 刚剛 杰傑 鹏鵬 辉輝 伟偉 轩軒 飞飛 鸣鳴 帅帥 凯凱
梦夢 瑶瑤 诗詩 颖穎 悦悅 铭銘 锦錦 诺諾 泽澤 语語 荣榮 胜勝 发發 达達 进進 远遠 云雲 广廣 贤賢
钰鈺 莹瑩 骏駿 玮瑋 炜煒 鸿鴻 桦樺 骅驊 岚嵐 贞貞 锋鋒 绣繡 铃鈴 鹃鵑 艺藝 扬揚 诚誠 韬韜 晖暉
业業 断斷 尝嘗 寿壽 玛瑪
"""
T = TypeVar("T")
_MOBILE_PREFIXES = "130 133 135 136 137 138 139 150 151 155 157 158 159 177 180 186 187 189 199"
_GENDERS = (("M", "F"), ("男", "女"), ("male", "female"))
_ADDRESS_PREFIXES = ("湖北省宜昌市", "宜昌市", "")
_ROMAN_SURNAMES = {"曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao",
                   "查": "zha", "覃": "qin", "万": "wan", "吕": "lyu"}  # fmt: skip
_TWIN_NAMES = {
    "male": "文 武 浩 然 子豪 子杰 俊杰 俊豪",
    "female": "欣 悦 雨婷 雨欣 思雨 思琪 佳佳",
}
_NUMBER = re.compile(r"[0-9]+")
_SOURCE_ID_SPACE = 10**7
_SOURCE_ID_STRIDE = 3_141_593  # coprime with 10**7: counter -> number is a permutation


def generate_registrations(
    people: int,
    *,
    seed: int = 0,
    facilities: list[Facility] | None = None,
    records_per_person: Sequence[float] = DEFAULT_RECORDS_PER_PERSON,
    rates: ErrorRates | None = None,
    twin_share: float = TWIN_SHARE,
    namesake_share: float = NAMESAKE_SHARE,
) -> Iterator[SourceRecord]:
    """Yield the registrations of ``people`` persons, person by person, deterministically."""
    if not records_per_person or min(records_per_person) < 0 or sum(records_per_person) <= 0:
        raise ValueError("records_per_person must be non-negative weights for 1, 2, ... visits")
    registered = facilities if facilities is not None else load_facilities()
    if len(registered) < len(records_per_person):
        raise ValueError("fewer facilities than the most visits a person can make")
    rng = random.Random(f"registrations/{seed}")
    picker = _FacilityPicker(registered)
    desk = _Desk(rng, rates or ErrorRates())
    visits = _Weighted(range(1, len(records_per_person) + 1), records_per_person)
    for key, person, relation, counterpart in _persons(
        people, seed, rng, desk.homes, twin_share, namesake_share
    ):
        for facility in picker.pick(rng, person, visits.draw(rng)):
            yield desk.register(facility, key, person, relation, counterpart)


# --- people, twins and namesakes ------------------------------------------------------------


def _persons(
    people: int,
    seed: int,
    rng: random.Random,
    homes: dict[str, tuple[str, str, str]],
    twin_share: float,
    namesake_share: float,
) -> Iterator[tuple[int, Resident, str, int | None]]:
    issued: set[int] = set()  # first 17 digits of every ID handed out
    minted: set[int] = set()  # ... of the IDs made here (generate_residents cannot see them)
    recent_names: dict[tuple[int, str], str] = {}
    key = 0
    for resident in generate_residents(people, seed):
        if key >= people:
            return
        if int(resident.resident_id[:17]) in minted:
            sequences = [rng.randrange(2, 1000) for _ in range(200)]
            resident = replace(resident, resident_id=_mint(resident, sequences, issued))
        issued.add(int(resident.resident_id[:17]))
        roll = rng.random()
        era = (resident.birth_date.year // 10, resident.sex)
        other: Resident | None = None
        relation = ""
        if roll < twin_share and key + 1 < people:
            other, relation = _twin(rng, resident, recent_names, issued), HardNegative.TWIN
        elif roll < twin_share + namesake_share and key + 1 < people:
            home = homes.get(resident.district_code)
            other, relation = _namesake(rng, resident, home, issued), HardNegative.COMMON_NAME
        if other is None:
            yield key, resident, "", None
            key += 1
        else:
            minted.add(int(other.resident_id[:17]))
            yield key, resident, relation, key + 1
            yield key + 1, other, relation, key
            key += 2
        recent_names[era] = resident.given_name
        homes[resident.district_code] = (
            resident.township, resident.village_or_community, resident.address_line
        )  # fmt: skip


def _twin(
    rng: random.Random, a: Resident, recent: dict[tuple[int, str], str], issued: set[int]
) -> Resident:
    sex = a.sex if rng.random() < 0.65 else ("female" if a.sex == "male" else "male")
    given = recent.get((a.birth_date.year // 10, sex), a.given_name)
    if given == a.given_name:
        given = rng.choice([n for n in _TWIN_NAMES[sex].split() if n != a.given_name])
    base = int(a.resident_id[14:17])
    sequences = [base + d for step in range(1, 40) for d in (step, -step)]
    twin = replace(a, given_name=given, sex=sex, insurance_number=None)
    return replace(twin, resident_id=_mint(twin, sequences, issued))


def _namesake(
    rng: random.Random, a: Resident, home: tuple[str, str, str] | None, issued: set[int]
) -> Resident:
    first = date(a.birth_date.year, 1, 1).toordinal()
    last = min(date(a.birth_date.year, 12, 31), LAST_BIRTH_DATE).toordinal()
    birth = date.fromordinal(first + rng.randrange(last - first + 1))
    township, place, line = home or (a.township, a.village_or_community, a.address_line)
    b = replace(
        a,
        birth_date=birth,
        phone=_new_phone(rng),
        township=township,
        village_or_community=place,
        address_line=_renumber(rng, line),
        insurance_number=None,
        resident_id=a.district_code + a.resident_id[6:],  # region: where the namesake lives
    )
    return replace(b, resident_id=_mint(b, [rng.randrange(2, 1000) for _ in range(200)], issued))


def _mint(person: Resident, sequences: Sequence[int], issued: set[int]) -> str:
    """A valid ID for ``person`` (region from their current ID) not issued yet."""
    for sequence in [*sequences, *range(1000)]:
        if 0 <= sequence <= 999:
            candidate = make_resident_id(
                person.resident_id[:6], person.birth_date, sequence, person.sex
            )
            if int(candidate[:17]) not in issued:
                issued.add(int(candidate[:17]))
                return candidate
    raise RuntimeError("no free sequence number for this region and birth date")


def _new_phone(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES.split()) + f"{rng.randrange(10**8):08d}"


def _renumber(rng: random.Random, line: str) -> str:
    return _NUMBER.sub(lambda _: str(rng.randint(1, 60)), line, count=1)


# --- where people register ------------------------------------------------------------------


class _Weighted(Generic[T]):
    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self.cum = tuple(accumulate(weights))

    def draw(self, rng: random.Random) -> T:
        return self.items[bisect(self.cum, rng.random() * self.cum[-1])]


_URBAN_KINDS = {FacilityKind.HOSPITAL: 0.50, FacilityKind.COMMUNITY_CENTER: 0.12,
                FacilityKind.COMMUNITY_STATION: 0.13, FacilityKind.TOWNSHIP_CENTER: 0.02,
                FacilityKind.VILLAGE_CLINIC: 0.01, FacilityKind.PHARMACY: 0.22}  # fmt: skip
_RURAL_KINDS = {FacilityKind.HOSPITAL: 0.42, FacilityKind.COMMUNITY_CENTER: 0.02,
                FacilityKind.COMMUNITY_STATION: 0.02, FacilityKind.TOWNSHIP_CENTER: 0.20,
                FacilityKind.VILLAGE_CLINIC: 0.20, FacilityKind.PHARMACY: 0.14}  # fmt: skip
_HOSPITAL_WEIGHT = {"三级": 6.0, "二级": 4.0, "一级": 1.0}


class _FacilityPicker:
    """Draw distinct facilities for a person: mostly near home, big hospitals from anywhere."""

    def __init__(self, facilities: Sequence[Facility]) -> None:
        towns = {d.code: d.townships for d in DISTRICTS}
        groups: dict[tuple[str, ...], list[Facility]] = {}
        for f in facilities:
            groups.setdefault((f.kind, f.district_code), []).append(f)
            groups.setdefault((f.kind,), []).append(f)
            groups.setdefault((), []).append(f)
            town = next((t for t in towns.get(f.district_code, ()) if f.address.startswith(t)), "")
            if town:
                groups.setdefault((f.kind, f.district_code, town), []).append(f)
            if (f.level, f.grade) == ("三级", "甲"):  # the city's big hospitals
                groups.setdefault(("city",), []).append(f)
        self.groups = {key: _Weighted(fs, [_weight(f) for f in fs]) for key, fs in groups.items()}
        self.urban = _Weighted(list(_URBAN_KINDS), list(_URBAN_KINDS.values()))
        self.rural = _Weighted(list(_RURAL_KINDS), list(_RURAL_KINDS.values()))

    def pick(self, rng: random.Random, person: Resident, count: int) -> list[Facility]:
        kinds = self.urban if person.village_or_community.endswith("社区") else self.rural
        chosen: dict[str, Facility] = {}
        for _ in range(count * 4):
            facility = self._one(rng, person, kinds.draw(rng))
            chosen[facility.code] = facility
            if len(chosen) == count:
                break
        return list(chosen.values())

    def _one(self, rng: random.Random, person: Resident, kind: FacilityKind) -> Facility:
        district, hospital = person.district_code, kind is FacilityKind.HOSPITAL
        near: tuple[str, ...] = ("city",) if hospital else (kind, district, person.township)
        first = [near] if rng.random() < (0.3 if hospital else 0.75) else []
        for key in [*first, (kind, district), (kind,), (FacilityKind.HOSPITAL, district), ()]:
            group = self.groups.get(key)
            if group is not None:
                return group.draw(rng)
        raise ValueError("no facilities to register at")


def _weight(facility: Facility) -> float:
    return _HOSPITAL_WEIGHT.get(facility.level or "", 1.0)


# --- what the desk types --------------------------------------------------------------------


def _homophone_table(spec: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for group in spec.split():
        for char in group:
            if char in table:
                raise ValueError(f"homophone groups overlap on {char}")
            table[char] = tuple(c for c in group if c != char)
    return table


def _translation(spec: str) -> dict[int, int]:
    pairs = spec.split()
    return str.maketrans("".join(p[0] for p in pairs), "".join(p[1] for p in pairs))


HOMOPHONES = _homophone_table(_HOMOPHONES)
_TO_TRADITIONAL = _translation(_TRADITIONAL)


def to_traditional(text: str) -> str:
    return text.translate(_TO_TRADITIONAL)


@dataclass(frozen=True, slots=True)
class _Profile:
    """How one facility's desk records people (fixed per facility code)."""

    full_name_only: bool
    romanise: float
    id_missing: float
    genders: tuple[str, str]
    address_prefix: str
    keeps_postal_code: bool
    number_offset: int


class _Desk:
    def __init__(self, rng: random.Random, rates: ErrorRates) -> None:
        self.rng = rng
        self.rates = rates
        self.homes: dict[str, tuple[str, str, str]] = {}  # the last home seen per district
        self.profiles: dict[str, _Profile] = {}
        self.counters: dict[str, int] = {}

    def profile(self, facility: Facility) -> _Profile:
        profile = self.profiles.get(facility.code)
        if profile is None:
            r, rates = random.Random(f"desk/{facility.code}"), self.rates
            primary = facility.kind in (FacilityKind.VILLAGE_CLINIC, FacilityKind.PHARMACY)
            foreign = foreign_facing(facility)
            profile = self.profiles[facility.code] = _Profile(
                full_name_only=primary or r.random() < 0.25,
                romanise=rates.romanised_foreign_desk if foreign else rates.romanised_other,
                id_missing=rates.id_missing_primary if primary else rates.id_missing_other,
                genders=r.choice(_GENDERS),
                address_prefix=r.choice(_ADDRESS_PREFIXES),
                keeps_postal_code=r.random() < 0.4,
                number_offset=r.randrange(_SOURCE_ID_SPACE),
            )
        return profile

    def register(
        self, facility: Facility, key: int, person: Resident, relation: str, counterpart: int | None
    ) -> SourceRecord:
        rng, rates, desk = self.rng, self.rates, self.profile(facility)
        serial = self.counters.get(facility.code, 0)
        self.counters[facility.code] = serial + 1
        number = (serial * _SOURCE_ID_STRIDE + desk.number_offset) % _SOURCE_ID_SPACE
        errors: list[str] = []
        family, given, name = self._name(person, desk, errors)
        id_number = self._id_number(person, desk, errors)
        birth_date = self._birth_date(person, errors)
        labels = desk.genders if rng.random() >= 0.03 else rng.choice(_GENDERS)
        male = person.sex == "male"
        if rng.random() < rates.gender_wrong:
            male = not male
            errors.append(DeskError.GENDER_WRONG)
        phone, roll = person.phone, rng.random()
        if roll < rates.phone_missing:
            phone = ""
            errors.append(DeskError.PHONE_MISSING)
        elif roll < rates.phone_missing + rates.phone_changed:
            phone = _new_phone(rng)
            errors.append(DeskError.PHONE_CHANGED)
        address = desk.address_prefix + self._address(person, errors)
        if rng.random() < rates.whitespace:
            errors.append(DeskError.WHITESPACE)
            target = rng.randrange(3)
            if target == 1 and len(id_number) == 18:
                id_number = f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}"
            elif target == 2 and phone:
                phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
            else:
                cut = len(family) if name.startswith(family) else len(name)
                name = rng.choice((f"{name[:cut]} {name[cut:]}", f"{name} ", f"\u3000{name}"))
        return SourceRecord(
            facility_code=facility.code,
            source_id=f"{facility.code}-{number:07d}",
            person_key=key,
            name=name,
            family_name="" if desk.full_name_only else family,
            given_name="" if desk.full_name_only else given,
            gender=labels[0] if male else labels[1],
            birth_date=birth_date,
            id_system=RESIDENT_ID_SYSTEM if id_number else "",
            id_number=id_number,
            phone=phone,
            address=address,
            postal_code=person.postal_code if desk.keeps_postal_code else "",
            errors=tuple(errors),
            person=person,
            hard_negative=relation,
            counterpart=counterpart,
        )

    def _name(self, person: Resident, desk: _Profile, errors: list[str]) -> tuple[str, str, str]:
        rng, family, given = self.rng, person.family_name, person.given_name
        if rng.random() < desk.romanise:
            errors.append(DeskError.ROMANISED)
            family, given = _romanise(family, given)
            if rng.random() < 0.5:
                return family.upper(), given.upper(), f"{family.upper()} {given.upper()}"
            return family.title(), given.title(), f"{given.title()} {family.title()}"
        if rng.random() < self.rates.homophone:
            spots = [i for i, c in enumerate(given) if c in HOMOPHONES]
            if family in HOMOPHONES and (not spots or rng.random() < 0.3):
                errors.append(DeskError.HOMOPHONE_FAMILY)
                family = rng.choice(HOMOPHONES[family])
            elif spots:
                errors.append(DeskError.HOMOPHONE_GIVEN)
                i = rng.choice(spots)
                given = given[:i] + rng.choice(HOMOPHONES[given[i]]) + given[i + 1 :]
        if rng.random() < self.rates.traditional:
            old_family, old_given = to_traditional(family), to_traditional(given)
            if (old_family, old_given) != (family, given):
                errors.append(DeskError.TRADITIONAL)
                family, given = old_family, old_given
        return family, given, family + given

    def _id_number(self, person: Resident, desk: _Profile, errors: list[str]) -> str:
        rng, rates, true_id = self.rng, self.rates, person.resident_id
        roll = rng.random()
        if roll < desk.id_missing:
            errors.append(DeskError.ID_MISSING)
            return ""
        roll -= desk.id_missing
        if roll < rates.id_one_digit:
            errors.append(DeskError.ID_ONE_DIGIT)
            i = rng.randrange(18)
            typed = rng.choice(
                [c for c in "0123456789X"[: 11 if i == 17 else 10] if c != true_id[i]]
            )
            return true_id[:i] + typed + true_id[i + 1 :]
        roll -= rates.id_one_digit
        if roll < rates.id_transposed:
            spots = [i for i in range(17) if true_id[i] != true_id[i + 1] and true_id[i + 1] != "X"]
            if spots:
                errors.append(DeskError.ID_TRANSPOSED)
                i = rng.choice(spots)
                return true_id[:i] + true_id[i + 1] + true_id[i] + true_id[i + 2 :]
        old = person.birth_date.year < 1960 and true_id[6:8] == "19"
        if old and rng.random() < rates.id_legacy15_old:
            errors.append(DeskError.ID_LEGACY15)
            return true_id[:6] + true_id[8:17]
        return true_id

    def _birth_date(self, person: Resident, errors: list[str]) -> str:
        rng, rates, born = self.rng, self.rates, person.birth_date
        roll = rng.random()
        if roll < rates.birth_day_month_swapped:
            if born.day <= 12 and born.day != born.month:
                errors.append(DeskError.BIRTH_DAY_MONTH_SWAPPED)
                born = date(born.year, born.day, born.month)
        elif roll < rates.birth_day_month_swapped + rates.birth_off_by_one:
            errors.append(DeskError.BIRTH_OFF_BY_ONE)
            born += timedelta(days=rng.choice((-1, 1)))
        if rng.random() < rates.birth_compact:
            errors.append(DeskError.BIRTH_COMPACT)
            return born.isoformat().replace("-", "")
        return born.isoformat()

    def _address(self, person: Resident, errors: list[str]) -> str:
        rng, rates = self.rng, self.rates
        town, place, line = person.township, person.village_or_community, person.address_line
        roll = rng.random()
        if roll < rates.address_township_only:
            errors.append(DeskError.ADDRESS_TOWNSHIP_ONLY)
            return person.district_name + town
        roll -= rates.address_township_only
        if roll < rates.address_abbreviated:
            errors.append(DeskError.ADDRESS_ABBREVIATED)
            return person.district_name + town + place
        roll -= rates.address_abbreviated
        if roll < rates.address_moved:
            errors.append(DeskError.ADDRESS_MOVED)
            new_town, new_place, new_line = self.homes.get(
                person.district_code, (town, place, line)
            )
            moved = _renumber(rng, new_line)
            while (new_town, new_place, moved) == (town, place, line):
                moved = _renumber(rng, new_line)
            town, place, line = new_town, new_place, moved
        return person.district_name + town + place + line


@cache
def _lazy_pinyin() -> Callable[[str], list[str]]:
    from pypinyin import lazy_pinyin

    return lazy_pinyin


def _romanise(family: str, given: str) -> tuple[str, str]:
    """Hanyu pinyin as on a passport: no tones, ü as ``yu``, surname readings for polyphones."""
    pinyin = _lazy_pinyin()
    roman_family = _ROMAN_SURNAMES.get(family) or "".join(pinyin(family))
    return roman_family.replace("v", "yu"), "".join(pinyin(given)).replace("v", "yu")
