"""A deterministic synthetic population of Yichang (宜昌市) residents, and their FHIR Patients.

Everything is drawn from one ``random.Random(seed)``, so a seed always gives the same people.
The shapes are plausible rather than statistical truth: district sizes follow the 2020 census
roughly, surnames follow Hubei frequencies (李 first; 王, 李, 张 about a fifth together), the
age pyramid is China's in outline, and 土家族 residents cluster in 长阳 and 五峰. Township names
are real; village and community names are made up. Nobody here is a real person.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from hub.demo.weighted_draw import WeightedDraw
from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.matching import Sex, make_resident_id

V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
# Births are drawn up to a fixed date (not "today"), so a seed gives the same people every year.
LAST_BIRTH_DATE = date(2025, 6, 30)


@dataclass(frozen=True)
class Resident:
    resident_id: str
    family_name: str
    given_name: str
    sex: Sex
    birth_date: date
    phone: str
    district_code: str
    district_name: str
    township: str
    village_or_community: str
    address_line: str
    postal_code: str
    insurance_number: str | None
    ethnicity: str


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260
    name: str
    postal_code: str
    population: int  # thousands, 2020 census, rounded: used as a sampling weight
    tujia_share: float
    townships: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _district(code: str, name: str, postal: str, pop: int, tujia: float, towns: str) -> District:
    return District(code, name, postal, pop, tujia, _words(towns))


# 当阳 and 远安 keep the 444xxx postal codes they had under the old Jingmen postal area.
DISTRICTS: tuple[District, ...] = (
    _district("420502", "西陵区", "443000", 536, 0.01,
              "西陵街道 学院街道 云集街道 葛洲坝街道 夜明珠街道 西坝街道 窑湾街道"),
    _district("420503", "伍家岗区", "443001", 298, 0.01, "大公桥街道 万寿桥街道 宝塔河街道 伍家乡"),
    _district("420504", "点军区", "443006", 103, 0.02, "点军街道 艾家镇 桥边镇 联棚乡 土城乡"),
    _district("420505", "猇亭区", "443007", 73, 0.01, "古老背街道 云池街道 虎牙街道"),
    _district("420506", "夷陵区", "443100", 536, 0.02,
              "小溪塔街道 龙泉镇 鸦鹊岭镇 分乡镇 太平溪镇 三斗坪镇 乐天溪镇 雾渡河镇 黄花镇 "
              "樟村坪镇 下堡坪乡 邓村乡"),
    _district("420525", "远安县", "444200", 174, 0.01, "鸣凤镇 花林寺镇 旧县镇 洋坪镇 嫘祖镇"),
    _district("420526", "兴山县", "443700", 156, 0.02, "古夫镇 昭君镇 峡口镇 南阳镇 高桥乡"),
    _district("420527", "秭归县", "443600", 326, 0.03,
              "茅坪镇 归州镇 屈原镇 郭家坝镇 沙镇溪镇 九畹溪镇 水田坝乡"),
    _district("420528", "长阳土家族自治县", "443500", 333, 0.55,
              "龙舟坪镇 高家堰镇 磨市镇 都镇湾镇 资丘镇 贺家坪镇"),
    _district("420529", "五峰土家族自治县", "443400", 167, 0.80,
              "五峰镇 渔洋关镇 长乐坪镇 采花乡"),
    _district("420581", "宜都市", "443300", 380, 0.05,
              "陆城街道 红花套镇 高坝洲镇 枝城镇 姚家店镇 聂家河镇"),
    _district("420582", "当阳市", "444100", 428, 0.01,
              "玉阳街道 玉泉街道 坝陵街道 两河镇 河溶镇 王店镇"),
    _district("420583", "枝江市", "443200", 446, 0.01,
              "马家店街道 安福寺镇 白洋镇 董市镇 七星台镇 百里洲镇"),
)  # fmt: skip

# ID address codes of people who live in Yichang but were first registered elsewhere in Hubei
# (Wuhan, Jingzhou, Jingmen, Xiangyang, Enshi, ...), and of 宜昌县, renamed 夷陵区 in 2001:
# a number never changes, so older 夷陵 residents often still carry 420521.
_MIGRANT_REGIONS = "420106 420111 421002 421003 421022 421087 420802 420602 422801 422802 422823"
_OLD_YICHANG_COUNTY = "420521"

# Hubei surname shares in per mille, roughly; the remainder is spread over _SURNAME_TAIL.
# Compound (欧阳 司马 诸葛 上官) and polyphonic (单 曾 解 仇 区 朴 查 覃) surnames are included.
_SURNAMES = (
    "李 80 王 68 张 63 刘 52 陈 46 胡 26 杨 30 黄 24 周 22 吴 18 赵 15 徐 13 孙 10 朱 13 "
    "高 10 林 6 何 11 郭 9 马 9 罗 12 余 12 谢 9 万 8 熊 9 邓 9 彭 8 曾 7 肖 8 田 6 向 6 "
    "程 7 汪 7 袁 6 雷 5 夏 5 蔡 6 杜 5 梅 3 龚 4 邹 4 卢 4 韩 4 唐 6 冯 5 宋 6 许 6 郑 7 "
    "潘 4 贺 4 姚 4 方 5 付 5 魏 4 严 3 覃 3 望 1 谭 4 冉 1 单 0.5 解 0.5 仇 0.4 区 0.2 "
    "朴 0.2 查 0.4 欧阳 0.6 上官 0.08 司马 0.08 诸葛 0.05"
)
_SURNAME_TAIL = (
    "丁 范 叶 石 姜 秦 江 史 陆 金 戴 贾 顾 段 廖 易 陶 左 柯 毛 尹 伍 聂 甘 鲁 蒋 崔 黎 侯 邵 "
    "孟 龙 钟 汤 白 常 武 康 乔 邱 赖 文 苏 吕 任 薛 阎 董 于 洪 鄢 舒 祝 涂 喻 傅 沈 韦 钱 梁"
)
_SURNAME_TAIL_SHARE = 250.0  # per mille, split evenly over the tail
_TUJIA_SURNAMES = "覃 30 向 25 田 20 谭 15 彭 12 冉 6 邓 6 杨 8 张 8 李 10 王 6 刘 6"

# Given names by birth era and sex; one-character entries are single-character names.
_ERA_STARTS = (1960, 1990, 2010)  # eras: before 1960, 1960-89, 1990-2009, 2010 on
_SINGLE_NAME_SHARE = (0.15, 0.35, 0.25, 0.12)
_GIVEN: dict[tuple[int, Sex], str] = {
    (0, "male"): "建国 国华 国强 志强 德明 德华 永明 永华 文华 家宝 光明 春生 福生 长林 守义 "
    "正清 新民 建华 学文 庆华 明 华 军 勇 林 贵 福 山",
    (0, "female"): "秀英 桂英 秀兰 玉兰 桂兰 玉珍 凤英 淑珍 翠花 春梅 冬梅 桂芳 秀珍 金凤 素华 "
    "玉梅 兰英 英 兰 珍 芳 梅 凤",
    (1, "male"): "建军 卫东 国庆 志刚 海涛 建平 红军 志勇 晓东 立新 红兵 小军 建新 文斌 海波 "
    "俊杰 永刚 伟 强 磊 军 勇 杰 涛 斌 超 明 鹏 辉 刚 平",
    (1, "female"): "红梅 丽华 晓燕 丽萍 海燕 红霞 小红 春燕 丽娟 晓丽 秀梅 雪梅 彩霞 爱华 凤霞 "
    "艳 静 丽 敏 燕 霞 娟 芳 红 琳 玲 婷 慧 萍",
    (2, "male"): "浩然 宇航 子豪 俊杰 浩宇 文博 家豪 天宇 鹏飞 晨阳 志豪 明轩 一鸣 振宇 子健 "
    "浩 宇 鑫 博 磊 帅 凯 鹏 俊 杰 成",
    (2, "female"): "婷婷 思雨 雨欣 佳怡 欣怡 梦瑶 雨婷 诗琪 晓雪 紫涵 心怡 佳琪 慧敏 梦琪 静怡 "
    "雪 倩 颖 琪 佳 欣 丹 悦 璐",
    (3, "male"): "子轩 浩宇 宇轩 梓豪 沐阳 一诺 皓轩 俊熙 梓睿 奕辰 宇泽 子墨 明哲 博文 锦程 "
    "昊天 辰逸 睿 宸 轩 浩 航",
    (3, "female"): "梓涵 一诺 欣怡 语桐 可馨 雨涵 诗涵 若汐 梓萱 子涵 依诺 欣妍 佳怡 语嫣 芷若 "
    "思彤 悦 萱 彤 瑶",
}

# Five-year birth cohorts (first year, relative size): China's 2020 pyramid in outline.
_COHORTS = (
    (1930, 9), (1935, 18), (1940, 28), (1945, 45), (1950, 72), (1955, 75), (1960, 90),
    (1965, 125), (1970, 115), (1975, 95), (1980, 98), (1985, 120), (1990, 95), (1995, 75),
    (2000, 70), (2005, 82), (2010, 88), (2015, 80), (2020, 45),
)  # fmt: skip

_MOBILE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 198 199"
)
_VILLAGE_STEMS = _words(
    "高家 桃花 石门 黄龙 青龙 马鞍 枫树 白果 柳林 三岔 金竹 龙潭 红岩 杨柳 双堰 大桥 新场 茶园 "
    "松林 花园 梨树 凉水 九龙 天池 长岭 古井 莲花 观音 河口 张家 陈家 向家 周家 邓家 望家 石板"
)
_COMMUNITY_STEMS = _words(
    "东山 解放 胜利 桃花岭 滨江 和平 星火 新华 光明 民主 建设 学院 珍珠 绿萝 长江 中南 东湖 "
    "江南 金湖 清江 夷陵 城东 港湾 白龙岗"
)
_ROADS = _words(
    "东山大道 夷陵大道 沿江大道 发展大道 城东大道 胜利路 解放路 云集路 珍珠路 建设路 人民路 "
    "新华路 和平路 长江路 清江路 桔城路 学院路 滨江路 光明路 民主路"
)
_OTHER_ETHNICITIES = ("回族", "苗族", "满族", "侗族", "蒙古族")


def _pairs(spec: str) -> tuple[list[str], list[float]]:
    tokens = spec.split()
    return tokens[0::2], [float(w) for w in tokens[1::2]]


def _surnames() -> WeightedDraw[str]:
    names, weights = _pairs(_SURNAMES)
    tail = _SURNAME_TAIL.split()
    share = _SURNAME_TAIL_SHARE / len(tail)
    return WeightedDraw([*names, *tail], [*weights, *([share] * len(tail))])


@cache
def _given_pools() -> dict[tuple[int, Sex], tuple[tuple[str, ...], tuple[str, ...]]]:
    pools = {}
    for key, spec in _GIVEN.items():
        names = spec.split()
        pools[key] = (
            tuple(n for n in names if len(n) == 1),
            tuple(n for n in names if len(n) > 1),
        )
    return pools


@cache
def _places(township: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A fixed set of made-up villages and communities for one (real) township."""
    rng = random.Random(township)  # str seeds are hashed with SHA-512: stable across runs
    villages = tuple(s + "村" for s in rng.sample(_VILLAGE_STEMS, 8))
    communities = tuple(s + "社区" for s in rng.sample(_COMMUNITY_STEMS, 4))
    return villages, communities


_DISTRICT_DRAW = WeightedDraw(DISTRICTS, [d.population for d in DISTRICTS])
_SURNAME_DRAW = _surnames()
_TUJIA_DRAW = WeightedDraw(*_pairs(_TUJIA_SURNAMES))
_COHORT_DRAW = WeightedDraw([y for y, _ in _COHORTS], [w for _, w in _COHORTS])


def generate_residents(n: int, seed: int = 0) -> Iterator[Resident]:
    """Yield ``n`` synthetic residents; the same ``seed`` always yields the same people."""
    rng = random.Random(seed)
    seen_ids: set[str] = set()
    seen_insurance: set[str] = set()
    for _ in range(n):
        district = _DISTRICT_DRAW.draw(rng)
        birth = _birth_date(rng)
        sex: Sex = "male" if rng.random() < _male_share(birth.year) else "female"
        ethnicity = _ethnicity(rng, district)
        family = _family_name(rng, ethnicity)
        township = rng.choice(district.townships)
        place, line = _address(rng, township)
        resident_id = _unique_id(rng, _id_region(rng, district, birth), birth, sex, seen_ids)
        yield Resident(
            resident_id=resident_id,
            family_name=family,
            given_name=_given_name(rng, birth.year, sex),
            sex=sex,
            birth_date=birth,
            phone=rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            district_code=district.code,
            district_name=district.name,
            township=township,
            village_or_community=place,
            address_line=line,
            postal_code=district.postal_code,
            insurance_number=_insurance_number(rng, district, seen_insurance),
            ethnicity=ethnicity,
        )


def resident_to_patient(r: Resident, *, patient_id: str | None = None) -> dict[str, Any]:
    """FHIR R4 Patient JSON for a resident."""
    identifiers: list[dict[str, Any]] = [
        {
            "use": "official",
            # v2-0203 "NI" (national unique individual identifier) is an enumerated concept
            # that means exactly this. "NNCHN" follows v2's "NNxxx" template (xxx = ISO 3166
            # country), which is a pattern, not a concept every terminology server knows.
            "type": _identifier_type("NI", "National unique individual identifier", "居民身份证"),
            "system": RESIDENT_ID_SYSTEM,
            "value": r.resident_id,
        }
    ]
    if r.insurance_number is not None:
        identifiers.append(
            {
                "use": "secondary",
                # "MB" (member number): the insured person's own number in the plan; each
                # insured person, child or adult, gets one, so "SN" (subscriber) fits less well.
                "type": _identifier_type("MB", "Member Number", "医保个人编号"),
                "system": INSURANCE_PERSON_SYSTEM,
                "value": r.insurance_number,
            }
        )
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if patient_id is not None:
        patient["id"] = patient_id
    patient |= {
        "identifier": identifiers,
        "name": [
            {
                "use": "official",
                "text": r.family_name + r.given_name,
                "family": r.family_name,
                "given": [r.given_name],
            }
        ],
        "telecom": [{"system": "phone", "value": r.phone, "use": "mobile"}],
        "gender": r.sex,
        "birthDate": r.birth_date.isoformat(),
        "address": [
            {
                "use": "home",
                "type": "physical",
                "text": f"湖北省宜昌市{r.district_name}{r.township}{r.village_or_community}"
                f"{r.address_line}",
                "line": [r.township, r.village_or_community, r.address_line],
                "city": "宜昌市",
                "district": r.district_name,
                "state": "湖北省",
                "postalCode": r.postal_code,
                "country": "CN",
            }
        ],
    }
    return patient


# --- drawing one attribute at a time -----------------------------------------------------


def _identifier_type(code: str, display: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": V2_IDENTIFIER_TYPE, "code": code, "display": display}],
            "text": text}  # fmt: skip


def _birth_date(rng: random.Random) -> date:
    year = _COHORT_DRAW.draw(rng)
    first = date(year, 1, 1).toordinal()
    last = min(date(year + 4, 12, 31), LAST_BIRTH_DATE).toordinal()
    return date.fromordinal(first + rng.randrange(last - first + 1))


def _male_share(year: int) -> float:
    # Women outlive men: the oldest cohorts are mostly female.
    if year < 1945:
        return 0.42
    if year < 1960:
        return 0.48
    return 0.515


def _ethnicity(rng: random.Random, district: District) -> str:
    roll = rng.random()
    if roll < district.tujia_share:
        return "土家族"
    if roll > 0.996:
        return rng.choice(_OTHER_ETHNICITIES)
    return "汉族"


def _family_name(rng: random.Random, ethnicity: str) -> str:
    if ethnicity == "土家族" and rng.random() < 0.4:
        return _TUJIA_DRAW.draw(rng)
    return _SURNAME_DRAW.draw(rng)


def _given_name(rng: random.Random, year: int, sex: Sex) -> str:
    era = bisect(_ERA_STARTS, year)
    singles, doubles = _given_pools()[(era, sex)]
    if rng.random() < _SINGLE_NAME_SHARE[era]:
        return rng.choice(singles)
    return rng.choice(doubles)


def _address(rng: random.Random, township: str) -> tuple[str, str]:
    villages, communities = _places(township)
    urban = township.endswith("街道") or (township.endswith("镇") and rng.random() < 0.3)
    if not urban:
        return rng.choice(villages), f"{rng.randint(1, 12)}组{rng.randint(1, 60)}号"
    line = f"{rng.choice(_ROADS)}{rng.randint(1, 199)}号"
    if rng.random() < 0.6:
        floor, room = rng.randint(1, 18), rng.randint(1, 4)
        line += f"{rng.randint(1, 12)}栋{rng.randint(1, 4)}单元{floor}{room:02d}室"
    return rng.choice(communities), line


def _id_region(rng: random.Random, district: District, birth: date) -> str:
    roll = rng.random()
    if roll < 0.04:
        return rng.choice(_MIGRANT_REGIONS.split())
    if roll < 0.09:
        return rng.choice(DISTRICTS).code  # registered in another Yichang division
    if district.code == "420506" and birth.year < 1985 and rng.random() < 0.5:
        return _OLD_YICHANG_COUNTY
    return district.code


def _unique_id(rng: random.Random, region: str, birth: date, sex: Sex, seen: set[str]) -> str:
    while True:
        resident_id = make_resident_id(region, birth, rng.randrange(2, 1000), sex)
        if resident_id not in seen:
            seen.add(resident_id)
            return resident_id


def _insurance_number(rng: random.Random, district: District, seen: set[str]) -> str | None:
    if rng.random() < 0.05:  # basic medical insurance covers about 95%
        return None
    while True:
        number = f"{district.code}{rng.randrange(10**14):014d}"  # 20 digits
        if number not in seen:
            seen.add(number)
            return number
