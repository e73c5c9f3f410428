"""Name keys and graded name agreement for the master patient index (pure, no database)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from hub.mpi.matching.name_agreement import (
    NameAgreement,
    compare_family,
    compare_given,
    compare_names,
)
from hub.mpi.matching.names import (
    NameKeys,
    blocking_keys,
    family_key,
    name_keys,
    phonetic_key,
    split_pinyin,
)
from hub.mpi.matching.names_data import (
    COMPOUND_SURNAMES,
    PINYIN_SYLLABLES,
    ROMANISED_COMPOUNDS,
    SURNAME_READINGS,
    TRAD_TO_SIMP,
)

A = NameAgreement


def grade(a: str, b: str) -> NameAgreement:
    return compare_names(name_keys(a), name_keys(b))


# --- levels ----------------------------------------------------------------------------------


def test_levels_are_ordered_with_missing_below_different() -> None:
    assert [level.value for level in A] == [-1, 0, 1, 2, 3, 4]
    assert A.MISSING < A.DIFFERENT < A.SIMILAR < A.FAMILY_SWAP_OR_PARTIAL < A.HOMOPHONE < A.EXACT


@pytest.mark.parametrize(("a", "b"), [("张伟", "章伟"), ("王芳", "汪芳"), ("李娜", "黎娜")])
def test_homophones_agree_at_homophone(a: str, b: str) -> None:
    assert grade(a, b) is A.HOMOPHONE
    assert compare_family(name_keys(a), name_keys(b)) is A.HOMOPHONE


@pytest.mark.parametrize(("a", "b"), [("张伟", "李娜"), ("John Smith", "Maria Jones")])
def test_different_people_are_different(a: str, b: str) -> None:
    assert grade(a, b) is A.DIFFERENT


def test_same_name_is_exact_and_grading_is_symmetric() -> None:
    names = [
        "张伟", "章伟", "张伟明", "赵文明", "陳偉", "李明", "李敏", "买买提·艾力", "艾力·买买提",
        "ZHANG WEI", "Wei Zhang", "Müller", "Mueller", "Jon Smith", "John Smyth", "吕布", "LU BU",
    ]  # fmt: skip
    keys = [name_keys(n) for n in names]
    for k in keys:
        assert compare_names(k, k) is A.EXACT
    for x, y in itertools.permutations(keys, 2):
        assert compare_names(x, y) is compare_names(y, x)
        assert compare_family(x, y) is compare_family(y, x)
        assert compare_given(x, y) is compare_given(y, x)


# --- Hanzi: traditional, compound and polyphonic surnames -----------------------------------


def test_traditional_and_simplified_are_exact() -> None:
    assert grade("陳偉", "陈伟") is A.EXACT
    keys = name_keys("劉麗華")
    assert (keys.family, keys.given, keys.full_pinyin) == ("刘", "丽华", "liulihua")


def test_traditional_table_has_no_chains_and_no_identities() -> None:
    simplified = set(TRAD_TO_SIMP.values())
    assert all(chr(trad) not in simplified for trad in TRAD_TO_SIMP)
    assert all(chr(trad) != simp for trad, simp in TRAD_TO_SIMP.items())
    assert 60 <= len(TRAD_TO_SIMP) <= 160


@pytest.mark.parametrize(
    ("name", "family", "given", "family_pinyin", "given_pinyin"),
    [
        ("欧阳娜娜", "欧阳", "娜娜", "ouyang", "nana"),
        ("歐陽娜娜", "欧阳", "娜娜", "ouyang", "nana"),
        ("司马光", "司马", "光", "sima", "guang"),
        ("諸葛亮", "诸葛", "亮", "zhuge", "liang"),
        ("上官婉儿", "上官", "婉儿", "shangguan", "waner"),
        ("尉迟恭", "尉迟", "恭", "yuchi", "gong"),
        ("万俟卨", "万俟", "卨", "moqi", "xie"),
        ("欧阳 娜娜", "欧阳", "娜娜", "ouyang", "nana"),
        ("张三丰", "张", "三丰", "zhang", "sanfeng"),
        ("欧阳", "欧", "阳", "ou", "yang"),  # two characters: a compound would leave no given name
    ],
)
def test_compound_surnames(
    name: str, family: str, given: str, family_pinyin: str, given_pinyin: str
) -> None:
    keys = name_keys(name)
    assert (keys.family, keys.given) == (family, given)
    assert (keys.family_pinyin, keys.given_pinyin) == (family_pinyin, given_pinyin)
    assert keys.script == "hanzi"


@pytest.mark.parametrize(
    ("name", "reading"),
    [
        ("单田芳", "shan"), ("曾国藩", "zeng"), ("解缙", "xie"), ("仇英", "qiu"),
        ("区志强", "ou"), ("朴槿惠", "piao"), ("查良镛", "zha"), ("覃明", "qin"),
        ("盖聂", "ge"), ("缪斯", "miao"), ("翟志刚", "zhai"), ("單田芳", "shan"),
    ],
)  # fmt: skip
def test_polyphonic_surnames_take_the_surname_reading(name: str, reading: str) -> None:
    assert name_keys(name).family_pinyin == reading
    assert family_key(name_keys(name)) == reading


def test_surname_reading_applies_only_in_family_position() -> None:
    assert name_keys("张单").given_pinyin == "dan"
    assert name_keys("张曾").given_pinyin != "zeng"
    assert name_keys(family="单", given="田芳").family_pinyin == "shan"


def test_surname_tables_use_known_syllables() -> None:
    for reading in [*SURNAME_READINGS.values(), *COMPOUND_SURNAMES.values()]:
        assert all(s in PINYIN_SYLLABLES for s in reading.split()), reading
    assert all(len(c) == 2 for c in COMPOUND_SURNAMES)
    assert all(len(r.split()) == 2 for r in COMPOUND_SURNAMES.values())
    compounds = {r.replace(" ", "") for r in COMPOUND_SURNAMES.values()}
    assert compounds >= ROMANISED_COMPOUNDS


def test_keys_fields_and_frozen() -> None:
    keys = name_keys("张伟")
    assert keys.raw == "张伟"
    assert (keys.family_pinyin, keys.given_pinyin) == ("zhang", "wei")
    assert (keys.full_pinyin, keys.initials) == ("zhangwei", "zw")
    assert keys.phonetic == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        keys.family = "李"  # type: ignore[misc]


def test_u_umlaut_is_written_v_everywhere() -> None:
    for name in ("吕", "LYU", "LÜ", "LV", "Lv"):
        assert name_keys(name).family_pinyin == "lv", name
    assert grade("吕布", "LYU BU") is A.HOMOPHONE
    assert grade("吕布", "LU BU") is A.SIMILAR  # ü written u on older documents


# --- minority names with a middle dot --------------------------------------------------------


@pytest.mark.parametrize("dot", ["·", "•", "・", "．", "‧", ".", "･"])
def test_middle_dot_splits_given_first(dot: str) -> None:
    keys = name_keys(f"买买提{dot}艾力")
    assert (keys.given, keys.family) == ("买买提", "艾力")
    assert keys.full_pinyin == "maimaitiaili"
    assert compare_names(keys, name_keys("买买提·艾力")) is A.EXACT


def test_middle_dot_names_compare_as_unordered_parts() -> None:
    assert grade("买买提·艾力", "艾力·买买提") is A.FAMILY_SWAP_OR_PARTIAL
    a, b = name_keys("买买提·艾力"), name_keys("艾力·买买提")
    assert compare_family(a, b) is A.FAMILY_SWAP_OR_PARTIAL
    assert compare_given(a, b) is A.FAMILY_SWAP_OR_PARTIAL
    assert grade("买买提·艾力·托合提", "买买提·艾力") is A.FAMILY_SWAP_OR_PARTIAL  # part missing
    assert grade("买买提·艾力", "MAIMAITI AILI") is A.HOMOPHONE
    assert grade("买买提·艾力", "Maimaiti.Aili") is A.HOMOPHONE


# --- romanised Chinese names -----------------------------------------------------------------


def test_romanised_equals_hanzi_at_homophone() -> None:
    assert grade("ZHANG WEI", "张伟") is A.HOMOPHONE
    assert grade("OUYANG NANA", "欧阳娜娜") is A.HOMOPHONE
    assert grade("Zhang Wei", "ZHANG WEI") is A.EXACT
    assert grade("ZHANGWEI", "ZHANG WEI") is A.EXACT


def test_western_order_romanisation_is_a_swap() -> None:
    assert grade("Wei Zhang", "张伟") >= A.FAMILY_SWAP_OR_PARTIAL
    assert compare_family(name_keys("Wei Zhang"), name_keys("张伟")) is A.FAMILY_SWAP_OR_PARTIAL
    assert grade("Wei ZHANG", "张伟") is A.HOMOPHONE  # the word in capitals is the family name


@pytest.mark.parametrize(
    ("name", "family", "given"),
    [
        ("zhang, wei", "ZHANG", "WEI"),
        ("ZHANG, WEI", "ZHANG", "WEI"),
        ("Wei, Zhang", "WEI", "ZHANG"),
        ("ZHANGWEI", "ZHANG", "WEI"),
        ("OUYANGNANA", "OUYANG", "NANA"),
        ("Zhang Wei-Ming", "ZHANG", "WEIMING"),
        ("ZHANG WEI MING", "ZHANG", "WEIMING"),
        ("LI XI'AN", "LI", "XIAN"),
        ("HUANGFUGUI", "HUANG", "FUGUI"),  # not 皇甫: 黄 is far more common
    ],
)
def test_romanised_names_are_parsed(name: str, family: str, given: str) -> None:
    keys = name_keys(name)
    assert (keys.family, keys.given, keys.script) == (family, given, "latin")
    assert keys.family_pinyin == family.lower()


def test_split_pinyin_boundaries() -> None:
    assert split_pinyin("xian") == ("xian",)
    assert split_pinyin("Xi'an") == ("xi", "an")
    assert split_pinyin("xi-an") == ("xi", "an")
    assert split_pinyin("zhangan") == ("zhan", "gan")  # no apostrophe: not zhang'an
    assert split_pinyin("zhang'an") == ("zhang", "an")
    assert split_pinyin("SHANGGUANWANER") == ("shang", "guan", "wan", "er")
    assert split_pinyin("Hans") is None
    assert split_pinyin("Smith") is None
    assert split_pinyin("") is None


# --- western Latin names ---------------------------------------------------------------------


def test_latin_names_are_folded_and_ordered() -> None:
    keys = name_keys("Müller, Hans")
    assert (keys.family, keys.given, keys.script) == ("MULLER", "HANS", "latin")
    assert keys.family_phonetic == "MALAR"
    assert grade("Hans Müller", "Müller, Hans") is A.EXACT
    assert grade("Hans Müller", "MÜLLER Hans") is A.EXACT
    assert name_keys("Jon Smith").family == "SMITH"


@pytest.mark.parametrize("other", ["Mueller", "Muller", "MÜLLER", "müller"])
def test_muller_variants_agree(other: str) -> None:
    assert grade("Müller", other) >= A.SIMILAR


def test_jon_smith_and_john_smyth_are_similar() -> None:
    assert grade("Jon Smith", "John Smyth") is A.SIMILAR
    assert compare_given(name_keys("Jon Smith"), name_keys("John Smyth")) is A.SIMILAR


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("Smith", "SNAT"), ("Smyth", "SNAT"), ("John", "JAN"), ("Jon", "JAN"),
        ("Mueller", "MALAR"), ("Müller", "MALAR"), ("Macdonald", "MCDANALD"),
        ("Brian", "BRAN"), ("Bryan", "BRAN"), ("Knight", "NAGT"), ("", ""),
    ],
)  # fmt: skip
def test_phonetic_key(word: str, key: str) -> None:
    assert phonetic_key(word) == key


# --- missing, full-width, parts, partial agreement -------------------------------------------


@pytest.mark.parametrize("empty", ["", "   ", "·", "--", "123"])
def test_empty_names_are_missing(empty: str) -> None:
    keys = name_keys(empty)
    assert keys.script == "empty"
    assert compare_names(keys, name_keys("张伟")) is A.MISSING
    assert compare_names(name_keys("张伟"), keys) is A.MISSING
    assert compare_family(keys, name_keys("张伟")) is A.MISSING
    assert blocking_keys(keys) == ()
    assert name_keys().script == "empty"


def test_given_missing_on_one_side_is_missing_for_given_only() -> None:
    assert compare_given(name_keys("Müller"), name_keys("Hans Müller")) is A.MISSING
    assert compare_family(name_keys("Müller"), name_keys("Hans Müller")) is A.EXACT


def test_full_width_input() -> None:
    assert grade("ＺＨＡＮＧ　ＷＥＩ", "ZHANG WEI") is A.EXACT
    assert grade("张　伟", "张伟") is A.EXACT
    assert name_keys("ＺＨＡＮＧ　ＷＥＩ").full_pinyin == "zhangwei"


def test_name_given_in_parts() -> None:
    assert compare_names(name_keys(family="欧阳", given="娜娜"), name_keys("欧阳娜娜")) is A.EXACT
    assert compare_names(name_keys(family="Smith", given="John"), name_keys("John Smith")) is (
        A.EXACT
    )
    keys = name_keys(family="ZHANG", given="Wei Ming")
    assert (keys.family, keys.given, keys.full_pinyin) == ("ZHANG", "WEIMING", "zhangweiming")
    assert name_keys(family="张", given="Wei").script == "mixed"
    with pytest.raises(ValueError):
        name_keys("张伟", family="张")


def test_partial_and_similar() -> None:
    assert grade("张伟", "张伟明") is A.FAMILY_SWAP_OR_PARTIAL  # one given syllable missing
    assert grade("张小明", "张明") is A.FAMILY_SWAP_OR_PARTIAL
    assert compare_given(name_keys("张伟"), name_keys("张伟明")) is A.FAMILY_SWAP_OR_PARTIAL
    assert grade("李明", "李敏") is A.SIMILAR  # liming / limin, Jaro-Winkler
    assert grade("张伟明", "赵文明") is A.SIMILAR  # same initials zwm, ming shared
    assert grade("ZHANGWIE", "张伟") is A.SIMILAR  # a typo: Jaro-Winkler alone
    assert grade("李娜", "李华") is A.DIFFERENT  # lina / lihua: below the threshold
    assert grade("李伟", "王伟") is A.DIFFERENT
    assert compare_family(name_keys("张伟"), name_keys("王伟")) is A.DIFFERENT
    assert compare_given(name_keys("张伟"), name_keys("王伟")) is A.EXACT


def test_mixed_script_name() -> None:
    keys = name_keys("张Wei")
    assert (keys.script, keys.family, keys.given) == ("mixed", "张", "WEI")
    assert grade("张Wei", "张伟") is A.HOMOPHONE


# --- blocking --------------------------------------------------------------------------------


def test_blocking_keys_bring_candidates_together() -> None:
    def shared(a: str, b: str) -> set[str]:
        return set(blocking_keys(name_keys(a))) & set(blocking_keys(name_keys(b)))

    assert "fp:zhangwei" in shared("张伟", "章伟")
    assert "fp:zhangwei" in shared("ZHANG WEI", "张伟")
    assert "ss:wei.zhang" in shared("Wei Zhang", "张伟")
    assert "fi:zhang:wm" in shared("张伟明", "张文敏")
    assert "ph:MALAR" in shared("Müller", "Mueller")
    assert not shared("张伟", "李娜")
    keys = blocking_keys(name_keys("张伟"))
    assert len(keys) == len(set(keys))
    assert all(isinstance(k, str) for k in keys)


def test_keys_are_hashable_values() -> None:
    assert name_keys("陳偉") == name_keys("陳偉")
    assert len({name_keys("张伟"), name_keys("张伟")}) == 1
    assert isinstance(name_keys("张伟"), NameKeys)
