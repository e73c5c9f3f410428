"""Tables behind :mod:`hub.mpi.matching.names`, and the primitives that only read them.

Characters, surnames and pinyin syllables, plus three small functions driven by those tables:
``split_pinyin`` (romanised word -> syllables), ``fold_latin`` (accent folding) and
``phonetic_key``. Kept apart so the tables can grow without the comparison code growing with
them. Every table is a constant built once at import; nothing here does I/O.

``phonetic_key`` is a hand-written NYSIIS variant (Y counts as a vowel after the first letter so
Smith/Smyth agree; no truncation to six letters). It is written here because the usual library
(jellyfish) is not a dependency and rapidfuzz has edit distances but no phonetic codes; NYSIIS
was picked over Soundex because it keeps vowel positions and still joins Mueller/Muller,
Jon/John and Smith/Smyth.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Traditional -> simplified, as (traditional, simplified) pairs written back to back. Not a full
# converter (that is OpenCC's job): the characters that are common in names, plus every character
# of the compound surnames below, so that 歐陽/司馬/諸葛 ... are recognised after conversion.
# 閆/閻 map to two different simplified surnames (闫/阎) on purpose; 於 (a surname of its own)
# and 乾/後 (one-to-many) are left out.
_TRAD_SIMP_SURNAMES = (
    "陳陈劉刘張张黃黄楊杨趙赵吳吴鄭郑孫孙馬马羅罗許许鄧邓蕭萧葉叶謝谢韓韩馮冯蔣蒋盧卢賈贾"
    "閻阎閆闫鍾钟鐘钟譚谭陸陆範范韋韦鄒邹龍龙賀贺顧顾龔龚萬万錢钱嚴严湯汤溫温齊齐喬乔龐庞"
    "顏颜莊庄聶聂魯鲁歐欧關关蘭兰寧宁紀纪淩凌畢毕單单塗涂駱骆藍蓝鮑鲍華华饒饶陽阳時时農农"
    "繆缪簡简車车項项連连麥麦黨党宮宫費费衛卫應应邊边師师榮荣遲迟區区蓋盖闞阚諸诸獨独聞闻"
    "軒轩轅辕離离臺台閭闾門门夾夹鮮鲜爾尔樂乐長长員员種种餘余蘇苏賴赖"
)
_TRAD_SIMP_GIVEN = (
    "偉伟麗丽紅红軍军國国強强靜静藝艺傑杰輝辉鵬鹏濤涛東东歡欢雲云鳳凤嬌娇穎颖潔洁豔艳艷艳"
    "瑩莹寶宝貴贵興兴慶庆義义順顺鳴鸣達达飛飞聰聪儀仪錦锦韻韵詩诗曉晓剛刚勝胜鋒锋凱凯瑤瑶"
    "夢梦嵐岚賢贤發发進进傳传揚扬學学誠诚銘铭"
)


def _pairs(text: str) -> dict[int, str]:
    return {ord(trad): simp for trad, simp in zip(text[0::2], text[1::2], strict=True)}


TRAD_TO_SIMP: dict[int, str] = _pairs(_TRAD_SIMP_SURNAMES) | _pairs(_TRAD_SIMP_GIVEN)

# Compound (two-character) surnames and their readings, syllables separated by a space. The
# readings are given here rather than asked of pypinyin: 尉迟 is yu chi, 万俟 mo qi, 长孙 zhang sun.
# 单于 is left out: 单 + a given name starting with 于 is far more likely today.
COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "ou yang", "司马": "si ma", "诸葛": "zhu ge", "上官": "shang guan",
    "司徒": "si tu", "东方": "dong fang", "独孤": "du gu", "南宫": "nan gong",
    "万俟": "mo qi", "闻人": "wen ren", "夏侯": "xia hou", "皇甫": "huang fu",
    "尉迟": "yu chi", "公孙": "gong sun", "慕容": "mu rong", "长孙": "zhang sun",
    "宇文": "yu wen", "轩辕": "xuan yuan", "令狐": "ling hu", "钟离": "zhong li",
    "端木": "duan mu", "呼延": "hu yan", "赫连": "he lian", "澹台": "tan tai",
    "濮阳": "pu yang", "申屠": "shen tu", "公冶": "gong ye", "宗政": "zong zheng",
    "淳于": "chun yu", "太叔": "tai shu", "拓跋": "tuo ba", "百里": "bai li",
    "东郭": "dong guo", "西门": "xi men", "司空": "si kong", "闾丘": "lv qiu",
    "亓官": "qi guan", "左丘": "zuo qiu", "乐正": "yue zheng", "漆雕": "qi diao",
    "公羊": "gong yang", "微生": "wei sheng", "羊舌": "yang she", "梁丘": "liang qiu",
    "公良": "gong liang", "东门": "dong men", "第五": "di wu", "巫马": "wu ma",
    "司寇": "si kou", "夹谷": "jia gu", "鲜于": "xian yu", "贺兰": "he lan",
    "完颜": "wan yan", "尔朱": "er zhu", "颛孙": "zhuan sun", "壤驷": "rang si",
    "谷梁": "gu liang", "段干": "duan gan", "宰父": "zai fu", "公西": "gong xi",
    "南门": "nan men",
}  # fmt: skip

# Compound surnames recognised inside a *joined* romanised name ("OUYANGNANA"). Those whose
# first syllable is also a very common single surname (huang fu / 黄, zhang sun / 张,
# dong fang / 董, zhong li / 钟, xia hou / 夏 ...) are left out: "HUANGFUGUI" is far more often
# 黄富贵 than 皇甫贵. Separated spellings ("OUYANG NANA") need no guessing.
ROMANISED_COMPOUNDS: frozenset[str] = frozenset({
    "ouyang", "sima", "zhuge", "shangguan", "situ", "dugu", "nangong", "moqi", "wenren",
    "yuchi", "gongsun", "murong", "yuwen", "xuanyuan", "linghu", "duanmu", "huyan",
    "helian", "tantai", "shentu", "chunyu", "tuoba", "ximen", "sikong",
})  # fmt: skip

# Readings of single-character surnames that differ from the character's everyday reading
# (pypinyin would say 单 dan, 曾 ceng, 解 jie, 仇 chou ...). Used only in family position.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao",
    "查": "zha", "覃": "qin", "盖": "ge", "缪": "miao", "翟": "zhai", "乐": "yue",
    "召": "shao", "繁": "po", "员": "yun", "华": "hua", "任": "ren", "薄": "bo",
    "秘": "bi", "种": "chong", "折": "she", "黑": "he", "隗": "wei", "眭": "sui",
    "宓": "fu", "阚": "kan", "尉": "wei", "长": "chang", "重": "chong", "句": "gou",
    "纪": "ji", "燕": "yan", "柏": "bai", "谌": "chen", "卜": "bu", "洗": "xian",
    "能": "nai", "都": "du", "藏": "zang", "祭": "zhai", "炅": "gui", "盛": "sheng",
    "曲": "qu", "朝": "chao", "蔚": "wei", "牟": "mou", "万": "wan", "叶": "ye",
}  # fmt: skip

# Toneless pinyin syllables as pypinyin spells them (Style.NORMAL: ü written 'v'), generated
# from pypinyin over U+4E00..U+9FA5, less the interjections hm, m, n (they would let "HANS" or
# "SMITH" pass for pinyin).
_SYLLABLES = """
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang
cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan
chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de den deng di dian
diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fiao fo
fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai
han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao
jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke ken keng kong kou ku kua kuai kuan
kuang kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin ling liu lo
long lou lu luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming
miu mo mou mu na nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou
nu nuan nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu
qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong
rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shen
sheng shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai
tan tang tao te teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen
weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi
yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang
zhao zhe zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu
zuan zui zun zuo
"""
PINYIN_SYLLABLES: frozenset[str] = frozenset(_SYLLABLES.split())

# Other spellings of ü-syllables met in romanised names, mapped to pypinyin's 'v' spelling.
# GB/T 28039-2011 (passports) writes ü as 'yu' after l and n: 吕 LYU, 女 NYU.
SYLLABLE_ALIASES: dict[str, str] = {
    "lyu": "lv", "nyu": "nv", "lyue": "lve", "nyue": "nve", "lue": "lve", "nue": "nve",
}  # fmt: skip

# Letters that accents do not decompose into (NFKD leaves them whole).
LATIN_FOLDS: dict[int, str] = {
    ord("ß"): "ss", ord("ẞ"): "SS", ord("ø"): "o", ord("Ø"): "O", ord("æ"): "ae",
    ord("Æ"): "AE", ord("œ"): "oe", ord("Œ"): "OE", ord("ł"): "l", ord("Ł"): "L",
    ord("đ"): "d", ord("Đ"): "D", ord("ı"): "i", ord("þ"): "th", ord("Þ"): "TH",
}  # fmt: skip

# Separators between the parts of a transliterated minority name (after NFKC, which already
# turns U+FF0E into '.', U+FF65 into U+30FB and U+0387 into U+00B7).
NAME_DOTS = "·•・‧∙⋅."


# --- table-driven primitives -----------------------------------------------------------------

_BOUNDARY = re.compile(r"['’‘`\-]+")
_MAX_SYLLABLE = 6  # zhuang, shuang, chuang
_VOWELS = frozenset("AEIOUY")  # Y is a vowel after the first letter (Smith/Smyth)
_SUFFIXES = {"EE": "Y", "IE": "Y", "DT": "D", "RT": "D", "RD": "D", "NT": "D", "ND": "D"}


@lru_cache(maxsize=8192)
def split_pinyin(word: str) -> tuple[str, ...] | None:
    """Split a romanised word into pinyin syllables, or None if it is not pinyin.

    Apostrophes and hyphens are syllable boundaries ("Xi'an" -> xi, an); otherwise the split
    with the fewest syllables wins, then the one with fewest vowel-initial syllables (as pinyin
    spelling would need an apostrophe there): "zhangan" -> zhan, gan.
    """
    lowered = word.lower().replace("ü", "v")
    syllables: list[str] = []
    for piece in _BOUNDARY.split(lowered):
        found = _segment(piece)
        if found is None:
            return None
        syllables.extend(found)
    return tuple(syllables) or None


def _segment(piece: str) -> tuple[str, ...] | None:
    if not piece.isascii() or not piece.isalpha():
        return None
    best: list[tuple[int, int, tuple[str, ...]] | None] = [None] * (len(piece) + 1)
    best[0] = (0, 0, ())
    for start in range(len(piece)):
        here = best[start]
        if here is None:
            continue
        for end in range(start + 1, min(len(piece), start + _MAX_SYLLABLE) + 1):
            syllable = piece[start:end]
            syllable = SYLLABLE_ALIASES.get(syllable, syllable)
            if syllable not in PINYIN_SYLLABLES:
                continue
            vowel_start = int(start > 0 and piece[start] in "aoe")
            candidate = (here[0] + 1, here[1] + vowel_start, (*here[2], syllable))
            current = best[end]
            if current is None or candidate[:2] < current[:2]:
                best[end] = candidate
    last = best[-1]
    return last[2] if last is not None else None


def fold_latin(word: str) -> str:
    """Uppercase letters of a Latin word with accents folded (Müller -> MULLER)."""
    decomposed = unicodedata.normalize("NFKD", word.translate(LATIN_FOLDS))
    return "".join(c for c in decomposed if c.isalpha()).upper()


def phonetic_key(word: str) -> str:
    """NYSIIS-style key of one Latin word (hand-written; see the module docstring)."""
    name = [c for c in fold_latin(word) if "A" <= c <= "Z"]
    if not name:
        return ""
    text = "".join(name)
    for old, new in (("MAC", "MCC"), ("KN", "NN"), ("K", "C"), ("PH", "FF"), ("PF", "FF")):
        if text.startswith(old):
            text = new + text[len(old) :]
            break
    else:
        if text.startswith("SCH"):
            text = "SSS" + text[3:]
    if len(text) > 2 and text[-2:] in _SUFFIXES:
        text = text[:-2] + _SUFFIXES[text[-2:]]
    name = list(text)
    key = [name[0]]
    for i in range(1, len(name)):
        c, nxt = name[i], name[i + 1] if i + 1 < len(name) else ""
        if c in _VOWELS:
            name[i] = "A"
            if c == "E" and nxt == "V":
                name[i + 1] = "F"
        elif c in "QZMK":
            name[i] = {"Q": "G", "Z": "S", "M": "N", "K": "N" if nxt == "N" else "C"}[c]
        elif c == "S" and name[i + 1 : i + 3] == ["C", "H"]:
            name[i + 1 : i + 3] = ["S", "S"]
        elif c == "P" and nxt == "H":
            name[i] = name[i + 1] = "F"
        elif (c == "H" and (name[i - 1] not in _VOWELS or nxt not in _VOWELS)) or (
            c == "W" and name[i - 1] in _VOWELS
        ):
            name[i] = name[i - 1]
        if name[i] != key[-1]:
            key.append(name[i])
    if len(key) > 1 and key[-1] == "S":
        key.pop()
    if len(key) > 1 and key[-1] == "A":
        key.pop()
    return "".join(key)
