"""Generate ``data/yichang_facilities.csv``, deterministically.

    python -m hub.demo.generate_facilities > hub/region/data/yichang_facilities.csv

The districts and their streets (街道), towns (镇) and townships (乡) are Yichang's real
administrative divisions; hospital, community, village and pharmacy names, addresses and phone
numbers are synthetic but plausible. A fixed seed makes the output identical on every run, so
the committed CSV can be checked against this script (see tests/unit/test_region.py).

Layout: 127 public hospitals (a handful of 三级 in the city, 二级 people's, TCM and maternal and
child hospitals per county, the rest 一级); one community health service centre per street with
its stations; one health centre per town or township with its village clinics; and designated
retail pharmacies, weighted towards the urban streets.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from dataclasses import dataclass, field

from hub.region.facilities import CSV_COLUMNS, DISTRICTS, FacilityKind

SEED = 2260_0717
HOSPITAL_COUNT = 127
PHARMACY_COUNT = 72

# District code -> its subdivisions; the first is the seat.
DIVISIONS: dict[str, tuple[str, ...]] = {
    "420502": ("西陵街道", "学院街道", "云集街道", "西坝街道", "葛洲坝街道", "夜明珠街道",
               "窑湾街道"),
    "420503": ("大公桥街道", "万寿桥街道", "宝塔河街道", "伍家岗街道", "伍家乡"),
    "420504": ("点军街道", "桥边镇", "艾家镇", "土城乡", "联棚乡"),
    "420505": ("古老背街道", "虎牙街道", "云池街道"),
    "420506": ("小溪塔街道", "樟村坪镇", "雾渡河镇", "分乡镇", "太平溪镇", "三斗坪镇", "乐天溪镇",
               "龙泉镇", "鸦鹊岭镇", "黄花镇", "下堡坪乡", "邓村乡"),
    "420525": ("鸣凤镇", "花林寺镇", "旧县镇", "洋坪镇", "茅坪场镇", "嫘祖镇", "河口乡"),
    "420526": ("古夫镇", "昭君镇", "峡口镇", "南阳镇", "黄粮镇", "水月寺镇", "高桥乡", "榛子乡"),
    "420527": ("茅坪镇", "归州镇", "屈原镇", "沙镇溪镇", "两河口镇", "郭家坝镇", "杨林桥镇",
               "九畹溪镇", "水田坝土家族乡", "泄滩乡", "梅家河乡", "磨坪乡"),
    "420528": ("龙舟坪镇", "高家堰镇", "磨市镇", "都镇湾镇", "资丘镇", "渔峡口镇", "榔坪镇",
               "贺家坪镇", "大堰乡", "鸭子口乡", "火烧坪乡"),
    "420529": ("五峰镇", "渔洋关镇", "仁和坪镇", "长乐坪镇", "湾潭镇", "付家坪乡", "牛庄乡",
               "采花乡"),
    "420581": ("陆城街道", "红花套镇", "高坝洲镇", "聂家河镇", "松木坪镇", "枝城镇", "姚家店镇",
               "五眼泉镇", "王家畈镇", "潘家湾土家族乡"),
    "420582": ("玉阳街道", "坝陵街道", "玉泉街道", "两河镇", "河溶镇", "淯溪镇", "庙前镇",
               "王店镇", "半月镇", "草埠湖镇"),
    "420583": ("马家店街道", "七星台镇", "白洋镇", "顾家店镇", "董市镇", "仙女镇", "问安镇",
               "安福寺镇", "百里洲镇"),
}  # fmt: skip
URBAN = ("420502", "420503", "420504", "420505")
COUNTIES = tuple(code for code in DIVISIONS if code not in URBAN)

# Landline prefixes (after 0717-) per district.
PHONE_PREFIX: dict[str, str] = {
    "420502": "62", "420503": "64", "420504": "65", "420505": "66", "420506": "78",
    "420525": "38", "420526": "25", "420527": "28", "420528": "53", "420529": "58",
    "420581": "48", "420582": "32", "420583": "42",
}  # fmt: skip

URBAN_ROADS: dict[str, tuple[str, ...]] = {
    "420502": ("夷陵大道", "东山大道", "解放路", "云集路", "西陵一路", "西陵二路", "沿江大道",
               "胜利四路", "珍珠路", "北山坡路", "隆康路", "樵湖一路"),
    "420503": ("城东大道", "夷陵大道", "沿江大道", "花溪路", "桔城路", "伍临路", "中南路",
               "东山大道", "港窑路", "共联路"),
    "420504": ("江南大道", "点军大道", "长江路", "朱家坪路"),
    "420505": ("猇亭大道", "福江路", "鄂西路", "长江大道"),
}  # fmt: skip
TOWN_ROADS = ("人民路", "建设路", "解放路", "文化路", "新街", "滨江路", "迎宾大道", "团结路",
              "和平路", "民主路", "新华路", "发展大道", "府前路", "中心路", "老街")  # fmt: skip

COMMUNITIES = (
    "东山", "白龙岗", "铁路坝", "珍珠", "北山坡", "桃花岭", "绿萝", "环城", "南湖", "滨江",
    "杨岔路", "果园", "花艳", "共联", "伍临", "紫阳", "胜利", "五一", "隆康", "福寿", "东湖",
    "望洲坪", "樵湖", "文佳", "金东山", "平湖", "书院", "解放", "学府", "和平", "新华", "安宁",
    "长江", "金桥", "建设", "幸福", "江南", "翠竹", "桔城", "平安", "兴发", "丽江", "春晖",
    "阳光", "三峡", "求索", "映湖", "万达", "明珠", "清江", "龙盘湖", "花溪", "合益", "汉宜",
)  # fmt: skip
VILLAGES = (
    "白鹤", "桃坪", "青龙", "双河", "长岭", "杨家湾", "柳林", "黄家冲", "石门", "太平", "新民",
    "红岩", "金竹", "板桥", "龙潭", "花桥", "向阳", "高岚", "大坪", "中坝", "茶园", "枫树",
    "兰草", "天池", "水井", "松林", "梨树坪", "黄龙", "马鞍", "龙井", "桥河", "沙坪", "桂花",
    "曹家畈", "李家湾", "雷家坪", "凉水", "石板", "岩口", "鹿角", "狮子", "凤凰", "观音",
    "清溪", "竹园", "荷花", "杨柳", "官庄", "古井", "大湾", "小河", "响水", "银杏", "庙河",
    "界岭", "柏木", "桃园", "青林", "九龙", "五里", "三岔", "七里", "联合", "团结", "光明",
    "前进", "红旗", "星火", "江口", "白果", "黄柏", "枣子", "杉木", "瓦屋", "堰塘",
)  # fmt: skip
PHARMACY_BRANDS = ("民康", "仁济堂", "百姓康", "康健", "惠民", "福寿堂", "三峡医药", "天和",
                   "济世", "泰和堂", "益康", "和济", "广济", "华康", "万家康")  # fmt: skip
LOWER_HOSPITAL_SUFFIXES = (
    "第二人民医院", "康复医院", "老年病医院", "口腔医院", "眼科医院", "骨伤医院",
    "中西医结合医院", "精神病医院", "皮肤病防治医院", "结核病防治医院", "肛肠医院",
)  # fmt: skip

# (name, level, grade, district code): the city hospitals and the second hospitals.
CITY_HOSPITALS: tuple[tuple[str, str, str, str], ...] = (
    ("宜昌市中心人民医院", "三级", "甲", "420502"),
    ("宜昌市第一人民医院", "三级", "甲", "420502"),
    ("宜昌市第二人民医院", "三级", "甲", "420502"),
    ("宜昌市中医医院", "三级", "甲", "420502"),
    ("宜昌市妇幼保健院", "三级", "甲", "420503"),
    ("三峡大学仁和医院", "三级", "甲", "420503"),
    ("宜昌市第三人民医院", "三级", "乙", "420503"),
    ("宜昌市精神卫生中心", "二级", "甲", "420502"),
    ("宜昌市口腔医院", "二级", "甲", "420502"),
    ("宜昌市康复医院", "二级", "乙", "420503"),
    ("西陵区人民医院", "二级", "乙", "420502"),
    ("伍家岗区人民医院", "二级", "乙", "420503"),
    ("点军区人民医院", "二级", "乙", "420504"),
    ("猇亭区人民医院", "二级", "甲", "420505"),
    ("宜都市第二人民医院", "二级", "乙", "420581"),
)
# County people's hospitals that are 三级乙等; the others are 二级甲等.
TERTIARY_COUNTY = ("420506", "420581", "420582", "420583")


@dataclass
class _Builder:
    rng: random.Random
    rows: list[dict[str, str]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)

    def add(
        self,
        prefix: str,
        width: int,
        kind: FacilityKind,
        name: str,
        district_code: str,
        address: str,
        *,
        parent: str = "",
        level: str = "",
        grade: str = "",
    ) -> str:
        number = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = number
        code = f"{prefix}{number:0{width}d}"
        self.rows.append(
            {
                "code": code,
                "name": name,
                "kind": kind.value,
                "level": level,
                "grade": grade,
                "district_code": district_code,
                "district": DISTRICTS[district_code],
                "parent_code": parent,
                "hl7_sending_facility": f"YC_{code}",
                "address": address,
                "phone": self.phone(district_code),
            }
        )
        return code

    def phone(self, district_code: str) -> str:
        while True:
            number = f"0717-{PHONE_PREFIX[district_code]}{self.rng.randrange(100000):05d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def street_address(self, district_code: str, place: str) -> str:
        # City roads for urban streets; generic town roads for towns and townships.
        urban = district_code in URBAN_ROADS and "街道" in place
        roads = URBAN_ROADS[district_code] if urban else TOWN_ROADS
        return f"{place}{self.rng.choice(roads)}{self.rng.randint(1, 399)}号"


def short(place: str) -> str:
    """A division name without its 街道/镇/乡 suffix (and 土家族 for ethnic townships)."""
    for suffix in ("土家族乡", "街道", "镇", "乡"):
        if place.endswith(suffix) and len(place) > len(suffix) + 1:
            return place[: -len(suffix)]
    return place


def is_street(place: str) -> bool:
    return place.endswith("街道")


def _hospitals(b: _Builder) -> None:
    hospitals: list[tuple[str, str, str, str]] = list(CITY_HOSPITALS)
    for code in COUNTIES:
        d = DISTRICTS[code]
        people = f"{d}第一人民医院" if code == "420581" else f"{d}人民医院"
        tertiary = code in TERTIARY_COUNTY
        hospitals.append((people, "三级" if tertiary else "二级", "乙" if tertiary else "甲", code))
        hospitals.append((f"{d}中医医院", "二级", b.rng.choice("甲乙"), code))
        hospitals.append((f"{d}妇幼保健院", "二级", b.rng.choice("甲乙"), code))
    taken = {name for name, *_ in hospitals}
    pool = [
        (f"{DISTRICTS[c]}{s}", c, DIVISIONS[c][0])
        for c in DIVISIONS
        for s in LOWER_HOSPITAL_SUFFIXES
    ]
    pool += [(f"{DISTRICTS[c]}{short(p)}医院", c, p) for c in DIVISIONS for p in DIVISIONS[c][1:]]
    pool = [entry for entry in pool if entry[0] not in taken]
    chosen = b.rng.sample(pool, HOSPITAL_COUNT - len(hospitals))
    chosen.sort(key=lambda entry: (list(DIVISIONS).index(entry[1]), entry[0]))
    for name, level, grade, code in hospitals:
        address = b.street_address(code, DIVISIONS[code][0])
        b.add("H", 3, FacilityKind.HOSPITAL, name, code, address, level=level, grade=grade)
    for name, code, place in chosen:
        grade = b.rng.choices("甲乙丙", weights=(3, 5, 2))[0]
        address = b.street_address(code, place)
        b.add("H", 3, FacilityKind.HOSPITAL, name, code, address, level="一级", grade=grade)


def _community(b: _Builder) -> None:
    centres: list[tuple[str, str, str]] = []
    for code, places in DIVISIONS.items():
        for place in places:
            if is_street(place):
                name = f"{DISTRICTS[code]}{place}社区卫生服务中心"
                address = b.street_address(code, place)
                centre = b.add("CC", 3, FacilityKind.COMMUNITY_CENTER, name, code, address)
                centres.append((centre, code, place))
    for centre, code, place in centres:
        count = b.rng.randint(3, 6) if code in URBAN else b.rng.randint(2, 4)
        for community in b.rng.sample(COMMUNITIES, count):
            name = f"{DISTRICTS[code]}{place}{community}社区卫生服务站"
            address = b.street_address(code, f"{place}{community}社区")
            kind = FacilityKind.COMMUNITY_STATION
            b.add("CS", 4, kind, name, code, address, parent=centre)


def _township(b: _Builder) -> None:
    centres: list[tuple[str, str, str]] = []
    for code, places in DIVISIONS.items():
        for index, place in enumerate(p for p in places if not is_street(p)):
            central = index == 0 or b.rng.random() < 0.25
            name = f"{DISTRICTS[code]}{place}{'中心卫生院' if central else '卫生院'}"
            address = b.street_address(code, place)
            centre = b.add("TC", 3, FacilityKind.TOWNSHIP_CENTER, name, code, address)
            centres.append((centre, code, place))
    for centre, code, place in centres:
        for village in b.rng.sample(VILLAGES, b.rng.randint(3, 5)):
            name = f"{DISTRICTS[code]}{place}{village}村卫生室"
            address = f"{place}{village}村{b.rng.randint(1, 12)}组"
            kind = FacilityKind.VILLAGE_CLINIC
            b.add("VC", 4, kind, name, code, address, parent=centre)


def _pharmacies(b: _Builder) -> None:
    places = [(code, place) for code, ps in DIVISIONS.items() for place in ps]
    weights = [4 if is_street(place) else 1 for _, place in places]
    names: set[str] = set()
    while len(names) < PHARMACY_COUNT:
        code, place = b.rng.choices(places, weights=weights)[0]
        name = f"宜昌{b.rng.choice(PHARMACY_BRANDS)}大药房{short(place)}店"
        if name in names:
            continue
        names.add(name)
        address = b.street_address(code, place)
        b.add("PH", 3, FacilityKind.PHARMACY, name, code, address)


def build_rows(seed: int = SEED) -> list[dict[str, str]]:
    """All facility rows, in file order."""
    builder = _Builder(random.Random(seed))
    _hospitals(builder)
    _community(builder)
    _township(builder)
    _pharmacies(builder)
    return builder.rows


def render_csv(seed: int = SEED) -> str:
    """The facility file's text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(build_rows(seed))
    return out.getvalue()


def main() -> int:
    sys.stdout.buffer.write(render_csv().encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
