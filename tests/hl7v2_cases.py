"""HL7 v2 messages as Yichang facilities send them, for tests of every layer (bytes on the wire).

Each builder returns the message encoded in the character set its MSH-18 declares, with CR
segment terminators. Personal data is invented; resident ID numbers carry a valid check digit
computed by ``hub.mpi.matching.identifiers`` (so they parse) unless a test asks for a broken one.
"""

from __future__ import annotations

from datetime import date

from adapters.hl7v2.charset import codec_for, decode_message
from adapters.hl7v2.parse import Message, parse_message
from hub.mpi.matching.identifiers import make_resident_id

FACILITY = "420502001"  # a hospital in 西陵区
UTF8 = "UNICODE UTF-8"
GB18030 = "GB 18030-2000"

RESIDENT_ID = make_resident_id("420502", date(1985, 3, 12), 123, "male")
RESIDENT_ID_FEMALE = make_resident_id("420503", date(1992, 7, 30), 46, "female")
BROKEN_RESIDENT_ID = RESIDENT_ID[:17] + ("0" if RESIDENT_ID[17] != "0" else "1")
INSURANCE_NUMBER = "4205YB0012345678"  # 医保个人编号
REFERRING = "点军区土城乡卫生院"
REFERRED_TO = "宜昌市中心人民医院"
ADDRESS_LINE = "西陵街道夷陵大道58号3栋2单元"
# XAD: street, other, city, province, postal code, country, type (home), -, county (GB/T 2260)
ADDRESS = f"{ADDRESS_LINE}^^宜昌市^湖北省^443000^CHN^H^^420502"


def msh(event: str, control_id: str, charset: str = UTF8, structure: str = "") -> str:
    structure = structure or f"{event.replace('^', '_')}"
    return (
        f"MSH|^~\\&|HIS|{FACILITY}|HUB|YICHANG|20240315083000+0800||{event}^{structure}|"
        f"{control_id}|P|2.5|||AL|NE|CHN|{charset}"
    )


def pid(
    mrn: str = "MR0001",
    name: str = "王^小明",
    birth: str = "19850312",
    sex: str = "M",
    resident_id: str | None = RESIDENT_ID,
    insurance: str | None = INSURANCE_NUMBER,
) -> str:
    ids = [f"{mrn}^^^{FACILITY}^MR"]
    if resident_id:
        ids.append(f"{resident_id}^^^CHN^NI")
    if insurance:
        ids.append(f"{insurance}^^^YB^YB")
    return (
        f"PID|1||{'~'.join(ids)}||{name}||{birth}|{sex}|||{ADDRESS}||"
        "13907170000^PRN^CP~0717-6223456^PRN^PH|||M"
    )


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment from {position: value} (positions in the standard's numbering)."""
    values = [""] * max(fields)
    for position, value in fields.items():
        values[position - 1] = value
    return "|".join([name, *values])


def encode(segments: list[str], charset: str = UTF8) -> bytes:
    return ("\r".join(segments) + "\r").encode(codec_for(charset))


def parse(raw: bytes) -> Message:
    """Decode by MSH-18 and parse, as the listener does."""
    text, charset = decode_message(raw)
    return parse_message(text, charset)


def adt_a04(
    charset: str = UTF8,
    *,
    name: str = "王^小明",
    mrn: str = "MR0001",
    birth: str = "19850312",
    resident_id: str | None = RESIDENT_ID,
    insurance: str | None = INSURANCE_NUMBER,
    event: str = "A04",
    visit: str = "V20240315001",
) -> bytes:
    """An outpatient registration (门诊挂号) with a visit, a contact and an insurance plan."""
    return encode(
        [
            msh(f"ADT^{event}", f"ADT{event}{mrn}", charset, structure="ADT_A01"),
            f"EVN|{event}|20240315083000",
            pid(mrn, name, birth, "M", resident_id, insurance),
            "NK1|1|王^大明|FTH^Father^HL70063|湖北省宜昌市西陵区东山大道1号|13800000001",
            f"PV1|1|O|内科门诊^201^1^{FACILITY}||||D001^李^医生|||MED||||1|||||{visit}"
            "|||||||||||||||||||||||||20240315083000",
            seg(
                "IN1",
                {
                    1: "1",
                    2: "YB-CZZG^城镇职工基本医疗保险",
                    3: "YCYB",
                    4: "宜昌市医疗保障局",
                    17: "SEL",
                    49: insurance or "",
                },
            ),
        ],
        charset,
    )


def adt_a01_minority(charset: str = UTF8) -> bytes:
    """An admission of a patient whose name is written with the middle dot (少数民族姓名)."""
    return adt_a04(charset, name="阿依古丽·买买提", mrn="MR0003", event="A01",
                   resident_id=RESIDENT_ID_FEMALE, visit="V20240315003")  # fmt: skip


def adt_a40(survivor: str = "MR0001", retired: str = "MR0999") -> bytes:
    return encode(
        [
            msh("ADT^A40", "ADTA40-1", structure="ADT_A39"),
            "EVN|A40|20240316090000",
            pid(survivor),
            f"MRG|{retired}^^^{FACILITY}^MR",
        ]
    )


def adt_a37(first: str = "MR0001", second: str = "MR0002") -> bytes:
    return encode(
        [
            msh("ADT^A37", "ADTA37-1", structure="ADT_A37"),
            "EVN|A37|20240316090000",
            pid(first),
            pid(second, name="欧阳^娜娜", sex="F", resident_id=RESIDENT_ID_FEMALE, insurance=None),
        ]
    )


def oru_r01() -> bytes:
    """A blood count (血常规) with a numeric, a coded and a text result."""
    return encode(
        [
            msh("ORU^R01", "ORU-1", structure="ORU_R01"),
            pid(),
            "PV1|1|O|||||||||||||||||V20240315001",
            "ORC|RE|PL1001|LAB2024031501",
            "OBR|1|PL1001|LAB2024031501|58410-2^血常规^LN|||20240315090000|||||||||D001^李^医生"
            "||||||20240315103000||HM|F",
            "OBX|1|NM|6690-2^白细胞计数^LN||11.2|10*9/L^^UCUM|3.5-9.5|H|||F|||20240315093000",
            "OBX|2|CWE|882-1^ABO+Rh血型^LN||A+^A型Rh阳性^L||||||F",
            "OBX|3|ST|8251-1^备注^LN||标本轻度溶血||||||F",
            "NTE|1|L|请结合临床",
        ]
    )


def siu_s12() -> bytes:
    """A specialist appointment booked from a township health centre (预约挂号)."""
    return encode(
        [
            msh("SIU^S12", "SIU-1", structure="SIU_S12"),
            "SCH|APT-P-1|APT-F-1|||||复诊^复诊|NORMAL|30|min",
            "TQ1|||||||20240320090000|20240320093000",
            pid(),
            "RGS|1",
            "AIS|1||CARD^心内科专家门诊^L|20240320090000|||30|min",
            "AIP|1||D002^张^主任|CARD^心内科^L",
            "AIL|1||心内科^305^^宜昌市中心人民医院",
        ]
    )


def ref_i12() -> bytes:
    """An upward referral (上转) from a township health centre to a city hospital."""
    return encode(
        [
            msh("REF^I12", "REF-1", structure="REF_I12"),
            "RF1|P^Pending^HL70283|S^STAT^HL70280|Med^Medical^HL70281||O|ZZ2024031501|20240315"
            "|20240415|20240315101500|O^Provider Ordered^HL70336|EXT-778",
            seg("PRD", {1: "RP^Referring Provider^HL70286", 2: "刘^医生", 10: REFERRING}),
            seg("PRD", {1: "RT^Referred to Provider^HL70286", 2: "张^主任", 10: REFERRED_TO}),
            pid(),
            "DG1|1||I20.0^不稳定型心绞痛^I10",
        ]
    )


def dft_p03() -> bytes:
    """Two charges of an outpatient visit, in yuan."""
    return encode(
        [
            msh("DFT^P03", "DFT-1", structure="DFT_P03"),
            "EVN|P03|20240315110000",
            pid(),
            "PV1|1|O|||||||||||||||||V20240315001",
            "FT1|1|T0001||20240315100000||CG|250101001^血常规^L|||1|25.00&CNY",
            "FT1|2|T0002||20240315100500||CG|110200001^门诊诊查费^L|||2||12.50",
        ]
    )


def with_segment_field(raw: bytes, segment: str, position: int, value: str) -> bytes:
    """The message with SEG-position replaced (for bad-input tests); UTF-8 messages only.

    Positions are the standard's: MSH-4 is the sending facility (MSH-1 is the separator).
    """
    lines = raw.decode("utf-8").split("\r")
    if segment == "MSH":
        position -= 1
    for i, line in enumerate(lines):
        if line.startswith(segment + "|"):
            fields = line.split("|")
            fields += [""] * (position + 1 - len(fields))
            fields[position] = value
            lines[i] = "|".join(fields)
            break
    return "\r".join(lines).encode("utf-8")


def rds_o13(prescription: str = "rx-1", amount: str = "20") -> bytes:
    """A pharmacy's dispense against a prescription circulated through the hub (ORC-2 in the
    hub's namespace), 20 tablets of a class B drug."""
    return encode(
        [
            msh("RDS^O13", "RDS-1", structure="RDS_O13"),
            pid(),
            f"ORC|RE|{prescription}^YICHANG-HUB|D0001||CM",
            seg(
                "RXD",
                {
                    1: "1",
                    2: "XN02BEA001B002010100005^阿司匹林肠溶片^L",
                    3: "20240315100000",
                    4: amount,
                    5: "片",
                    7: "RX0001",
                    9: "每日一次",
                },
            ),
        ]
    )
