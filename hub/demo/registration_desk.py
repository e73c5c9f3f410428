"""What a facility's registration desk types: homophones, traditional characters, romanised
names, mistyped ID numbers and dates, changed phones and moved addresses, at the rates of
:class:`~hub.demo.source_records.ErrorRates`. Homophones keep the toneless pinyin; a mistyped ID
number fails the check digit or swaps two neighbours. Each facility's desk has a fixed profile
(which gender labels, which address prefix, whether it keeps the postal code).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from hub.demo.population import Resident
from hub.demo.source_records import DeskError, ErrorRates, SourceRecord
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.region.facilities import Facility, FacilityKind

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
_MOBILE_PREFIXES = "130 133 135 136 137 138 139 150 151 155 157 158 159 177 180 186 187 189 199"
_GENDERS = (("M", "F"), ("男", "女"), ("male", "female"))
_ADDRESS_PREFIXES = ("湖北省宜昌市", "宜昌市", "")
_ROMAN_SURNAMES = {"曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao",
                   "查": "zha", "覃": "qin", "万": "wan", "吕": "lyu"}  # fmt: skip
_NUMBER = re.compile(r"[0-9]+")
_SOURCE_ID_SPACE = 10**7
_SOURCE_ID_STRIDE = 3_141_593  # coprime with 10**7: counter -> number is a permutation


def foreign_facing(facility: Facility) -> bool:
    """Desks that often take names romanised (international clinic, private dental and eye)."""
    return any(marker in facility.name for marker in ("仁和", "口腔", "眼科"))


def new_phone(rng: random.Random) -> str:
    """A mobile number with a real Chinese carrier prefix."""
    return rng.choice(_MOBILE_PREFIXES.split()) + f"{rng.randrange(10**8):08d}"


def renumber(rng: random.Random, line: str) -> str:
    """The address line with its first house number changed (another house, same street)."""
    return _NUMBER.sub(lambda _: str(rng.randint(1, 60)), line, count=1)


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


class RegistrationDesk:
    """Types each registration as one facility's desk would, errors and all."""

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
            phone = new_phone(rng)
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
            moved = renumber(rng, new_line)
            while (new_town, new_place, moved) == (town, place, line):
                moved = renumber(rng, new_line)
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
