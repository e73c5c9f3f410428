"""A realistic HL7 v2 feed for bench/hl7_ingest.py: Chinese residents, several facilities.

The mix follows a regional feed: ADT (A04 registrations, A08 updates, with PID, NK1, PV1, IN1),
ORU^R01 lab results (one OBR, five OBX) and SIU^S12 bookings. People come from the synthetic
population (hub.demo.population) so names, resident IDs, phones and addresses look real;
MSH-18 is UTF-8 for most facilities and GB 18030 for some, as Hubei's HIS vendors send.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hub.mpi.matching.identifiers import make_resident_id

FACILITIES = [("H001", "YC_H001"), ("H002", "YC_H002"), ("H003", "YC_H003"), ("H004", "YC_H004")]
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅玉婷"
LABS = [
    ("718-7", "Hemoglobin", "g/dL", "12.0-16.0"),
    ("6690-2", "WBC", "10*3/uL", "4.0-10.0"),
    ("2345-7", "Glucose", "mmol/L", "3.9-6.1"),
    ("2160-0", "Creatinine", "umol/L", "44-133"),
    ("1742-6", "ALT", "U/L", "7-40"),
]


@dataclass(frozen=True)
class FeedMessage:
    facility: str
    kind: str  # ADT, ORU or SIU
    control_id: str
    payload: bytes


def _person(rng: random.Random, number: int) -> dict[str, str]:
    from datetime import date

    birth = date(rng.randint(1940, 2020), rng.randint(1, 12), rng.randint(1, 28))
    sex = rng.choice("MF")
    return {
        "mrn": f"M{number:08d}",
        "family": rng.choice(FAMILY),
        "given": rng.choice(GIVEN) + rng.choice(GIVEN),
        "birth": birth.strftime("%Y%m%d"),
        "sex": sex,
        "id": make_resident_id(
            "420502", birth, rng.randint(1, 998), "male" if sex == "M" else "female"
        ),
        "phone": f"13{rng.randint(100000000, 999999999)}",
        "ins": f"42050{rng.randint(10**9, 10**10 - 1)}",
    }


def _msh(name: str, kind: str, control: str, charset: str) -> str:
    return (f"MSH|^~\\&|HIS|{name}|HUB|YICHANG|20261126101500||{kind}|{control}|P|2.5|||||CHN|"
            f"{charset}\r")  # fmt: skip


def _pid(p: dict[str, str], name: str) -> str:
    return (f"PID|1||{p['mrn']}^^^{name}^MR~{p['id']}^^^CHN^NI||{p['family']}^{p['given']}||"
            f"{p['birth']}|{p['sex']}|||西陵区夷陵大道{p['mrn'][-3:]}号^^宜昌市^湖北省^443000||"
            f"{p['phone']}\r")  # fmt: skip


def adt(p: dict[str, str], name: str, control: str, charset: str, event: str) -> str:
    return (
        _msh(name, f"ADT^{event}^ADT_A01", control, charset)
        + f"EVN|{event}|20261126101500\r"
        + _pid(p, name)
        + f"NK1|1|{p['family']}^建国|FTH^父亲|||13900000000\r"
        + f"PV1|1|O|内科门诊^^^{name}||||1234^李^医生|||||||||||V{control}\r"
        + f"IN1|1|YBCZ|42050001|宜昌市医疗保障局|||||||||||||||||||||||||||||||||||||||"
        f"||||{p['ins']}\r"
    )


def oru(p: dict[str, str], name: str, control: str, charset: str) -> str:
    lines = [
        _msh(name, "ORU^R01^ORU_R01", control, charset),
        _pid(p, name),
        f"OBR|1|P{control}|F{control}|24331-1^Lipid panel^LN|||20261126080000\r",
    ]
    for i, (code, text, unit, ref) in enumerate(LABS, start=1):
        value = round(random.uniform(1, 100), 1)
        lines.append(f"OBX|{i}|NM|{code}^{text}^LN||{value}|{unit}|{ref}|N|||F\r")
    return "".join(lines)


def siu(p: dict[str, str], name: str, control: str, charset: str) -> str:
    return (
        _msh(name, "SIU^S12^SIU_S12", control, charset)
        + f"SCH|A{control}|A{control}|||||复诊^Follow-up|||30|min|^^30^20261201090000^"
        f"20261201093000|||||||||||||||BOOKED\r"
        + _pid(p, name)
        + "RGS|1\r"
        + "AIS|1||CONSULT^门诊复诊|20261201090000|0|min|30|min\r"
    )


def feed(
    count: int,
    seed: int = 7,
    adt_only: bool = False,
    facilities: list[tuple[str, str]] | None = None,
) -> list[FeedMessage]:
    """``count`` messages from ``facilities`` (code, HL7 name) in turn, default the first four
    hospitals; every fourth facility of the list sends GB 18030 (H004 in the default list).
    MSH-10 is ``B<seed>-<n>``: give each feed of one run its own seed."""
    senders = facilities or FACILITIES
    gb18030 = {code for index, (code, _) in enumerate(senders) if index % 4 == 3}
    rng = random.Random(seed)
    random.seed(seed)
    people = [_person(rng, n) for n in range(max(10, count // 3))]
    out: list[FeedMessage] = []
    for number in range(count):
        code, name = senders[number % len(senders)]
        charset = "GB 18030-2000" if code in gb18030 else "UNICODE UTF-8"
        codec = "gb18030" if code in gb18030 else "utf-8"
        person = people[rng.randrange(len(people))]
        control = f"B{seed}-{number}"
        roll = 0.0 if adt_only else rng.random()
        if roll < 0.6:
            text, kind = adt(person, name, control, charset, rng.choice(["A04", "A08"])), "ADT"
        elif roll < 0.85:
            text, kind = oru(person, name, control, charset), "ORU"
        else:
            text, kind = siu(person, name, control, charset), "SIU"
        out.append(FeedMessage(code, kind, control, text.encode(codec)))
    return out
