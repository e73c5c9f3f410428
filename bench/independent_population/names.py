"""Name, character and place tables for the independent Yichang population generator.

Everything here is hand-written from general knowledge of Chinese naming and of
Yichang's administrative geography.  Township, street, village and road names are
invented (they may accidentally coincide with real ones); district names and the
GB/T 2260 district codes are real.
"""

import re

# ---- family names -----------------------------------------------------------
# Rough national frequency (per mille), nudged towards Hubei (胡, 余, 熊, 汪, 望 ...).
_SUR = (
    "李79 王76 张70 刘54 陈47 杨32 黄25 胡19 赵22 周21 吴21 徐18 孙17 朱14 高13 何12 "
    "郭12 林10 马10 罗10 梁8 宋8 郑8 谢8 韩7 唐7 冯7 程7 邓7 于5 董6 肖6 曹6 袁6 许6 "
    "余6 彭6 曾5 汪5 熊5 傅4 沈4 吕4 苏4 卢4 蒋4 蔡4 丁4 魏4 叶4 潘4 杜4 夏4 田4 方4 "
    "谭4 贾3 薛3 戴3 钟3 任3 姜3 范3 石3 姚3 廖3 邹3 毛3 江3 雷3 万3 易3 龚3 向3 "
    "金2 陆2 郝2 孔2 白2 邱2 秦2 黎2 覃2 望2 艾2 严2 冉1 欧阳1.5 司马0.6 诸葛0.6 上官0.5"
)
SURNAMES = [(n.strip(), float(w)) for n, w in re.findall(r"(\D+?)([\d.]+)", _SUR)]
# 长阳/五峰 (Tujia autonomous counties): 覃, 向, 田, 谭, 冉 ... are far more common.
TUJIA_BOOST = {"覃": 15, "向": 10, "田": 6, "谭": 5, "冉": 12, "彭": 3, "龚": 3, "邓": 2}

# ---- given names by birth cohort --------------------------------------------
# cohort index: 0 <1950, 1 1950-64, 2 1965-79, 3 1980-94, 4 1995-2009, 5 2010+
COHORT_EDGES = (1950, 1965, 1980, 1995, 2010)
POOL = {  # "first-position chars|second-position chars" for composing two-character given names
    "M": [
        "德福贵国家长春明正清云玉金永兴世先光有万大宗茂绍汉启焕|福贵财全发富华明生山成林根宝荣昌庆祥寿义才堂元和顺友章廷坤炳",
        "建国卫红志胜爱永新光文学跃德立继振庆先东向|国华军东兵平新强利明武民生林忠良清彬泉荣山雄发",
        "志海建晓小文俊国红永立卫新明宏伟春金德光|伟军勇强涛斌杰刚波鹏辉峰华明超亮东林平兵锋松祥",
        "俊文志晓建家鹏海浩明天少国永小立世振忠德|伟磊涛杰鹏浩超亮峰斌辉强军勇宇飞龙凯鑫明林波华刚然",
        "浩子家俊宇博天晨嘉思志文明鹏建泽一振|宇杰鹏帅超鑫龙飞豪文航轩阳然涛磊博翔凯森林",
        "子浩宇梓俊皓一沐锦奕博思铭嘉睿明天家煜|轩豪熙诺宸睿程辰涵然墨泽宇阳航铭瑞杰霖凡",
    ],
    "F": [
        "秀桂玉淑凤翠金银春兰素美月冬腊彩巧菊|英兰珍花芝梅芳莲香荣琴凤娥仙姑菊云秀贞",
        "红丽秀桂爱建春玉小素美凤金冬月翠|梅华芳英兰霞萍琴珍红云凤玲娥莲菊香荣娟",
        "晓丽小春海红秀玉凤金美艳燕慧|芳丽娟静敏燕艳霞玲琴英萍红梅丹莉慧蓉华琼",
        "晓丽雪佳慧静婷倩丹美秀玉春小红文|静丽娜敏婷芳燕雪倩丹颖琳玲慧霞晶莉娟萍红琴艳",
        "雨佳思梦欣诗雪婷子晓紫心静文丽美|婷雪倩琪静丹悦瑶怡涵月颖雨琳洁茜蕾欣璐",
        "梓欣诗一语可子依雨思若沐紫佳芷雅安|涵怡诺桐馨萱彤汐妍晴琪悦琳瑶菲淇溪然",
    ],
}
FIXED = {  # popular whole given names per cohort
    "M": [
        "德福 长发 国华 福生 金山 春生 德明 玉成 家贵 志成",
        "建国 建华 国庆 卫东 志强 建军 红兵 国华 胜利 爱国 建平 建新 永红 卫国",
        "志刚 海涛 建波 晓东 志勇 建军 海峰 俊杰 文斌 小军",
        "文杰 志伟 晓明 建伟 家俊 鹏飞 海波 俊峰 俊杰",
        "俊杰 浩然 子豪 家豪 博文 宇航 浩宇 子轩 晨阳 天宇",
        "子轩 浩宇 宇轩 梓豪 俊熙 皓轩 一诺 沐宸 锦程 奕辰 博涵 浩然 梓睿 子墨 宇泽",
    ],
    "F": [
        "秀英 桂英 玉兰 桂兰 秀兰 淑珍 凤英 玉珍 翠花 秀珍 桂珍 兰英 玉英 金花 春兰",
        "红梅 丽华 秀芳 桂芳 爱华 建英 春梅 玉梅 素珍 小红 秀琴 爱珍 秀英",
        "晓燕 丽娟 小红 晓丽 红霞 海燕 春燕 秀娟 丽萍 玉玲",
        "婷婷 晓燕 丽娜 雪梅 佳佳 倩倩 静怡 慧敏 丹丹 晶晶",
        "婷婷 雨婷 佳怡 思雨 梦瑶 欣怡 雪莹 佳琪 诗雨 梦琪",
        "梓涵 欣怡 诗涵 一诺 语桐 可馨 子涵 依诺 雨桐 梓萱 思彤 若汐 欣妍 沐晴",
    ],
}
# single-character given names, most popular first (Zipf-weighted): gives 张伟/王芳/李娜/刘洋
SINGLE = {
    "M": "伟强磊军洋勇杰涛明超刚平斌波辉峰鹏浩亮俊宇飞鑫龙凯华林健",
    "F": "芳娜敏静丽艳娟霞燕玲红英萍琴梅丹莉倩婷颖洁琳慧雪晶蓉",
}
SINGLE_SHARE = (0.04, 0.1, 0.18, 0.15, 0.08, 0.03)
FIXED_SHARE = (0.2, 0.15, 0.1, 0.1, 0.1, 0.12)
TWIN_DOUBLED = ["乐乐 欢欢", "安安 宁宁", "晨晨 曦曦", "可可 乐乐", "点点 滴滴", "多多 米米"]

# ---- clerk errors -----------------------------------------------------------
# homophones / near-homophones (incl. Hubei n-l and h-w mergers) and look-alikes
_HOMO = (
    "陈程 程陈 王汪黄 汪王 黄王 张章 章张 李黎 黎李 刘柳 杨扬 徐许 许徐 周邹 邹周 肖萧 萧肖 "
    "付傅 傅付 余于 于余 谭覃 覃谭 向项 丽莉俐 莉丽 军君均 君军 红宏虹 宏红 华化桦 伟玮炜 "
    "玮伟 涛滔 波博 明铭名 静晶靖 敏民 芳方 刚钢 峰锋 杰洁 玲琳龄宁 琳玲 英瑛 燕艳 艳燕 娟鹃 "
    "霞侠 萍平 平萍 勇永 磊雷 鹏朋 辉晖 婷亭 倩茜 琪琦淇 欣馨鑫 怡宜 涵晗含 轩萱宣 萱轩 "
    "宇雨羽 雨宇 浩皓昊 皓浩 子梓 梓子 睿瑞 辰晨宸 晨辰 诗思 思诗 佳嘉 桂贵 兰南 秀修 "
    "珍真 凤风 玉王 梅玫 春纯 建健 志智 文雯 斌彬 彬斌 超潮 俊骏峻 龙隆 凯恺 娜纳 德得 "
    "福富 富福 贵桂 发法 荣蓉 翠萃 悦月 瑶遥 颖影 慧惠 霖林 林琳 海凯 强墙"
)
HOMO = {w[0]: w[1:] for w in _HOMO.split()}
# simplified -> traditional (only characters that differ)
_TRAD = (
    "陈陳刘劉张張华華东東国國军軍红紅丽麗伟偉静靜涛濤兰蘭凤鳳龙龍杰傑叶葉杨楊黄黃赵趙"
    "吴吳郑鄭孙孫马馬许許邓鄧萧蕭钟鍾韩韓冯馮谭譚卢盧贾賈严嚴贵貴财財发發庆慶荣榮兴興"
    "长長卫衛强強刚剛鹏鵬辉輝艳艷宁寧飞飛轩軒诺諾语語锦錦帅帥梦夢瑶瑤爱愛胜勝银銀云雲"
    "晓曉乐樂欢歡凯凱宝寶龚龔欧歐阳陽诸諸罗羅万萬邹鄒苏蘇吕呂蒋蔣陆陸谢謝汤湯钱錢顾顧"
    "娟娟颖穎玲玲琳琳鑫鑫义義进進学學怀懷维維桦樺鹃鵑侠俠晖暉宾賓广廣汉漢纪紀齐齊"
    "丰豐书書乔喬贺賀岚嵐凤鳳宫宮尔爾亚亞门門问問诗詩梓梓涵涵馨馨萱萱彤彤汐汐"
)
TRAD = {_TRAD[i]: _TRAD[i + 1] for i in range(0, len(_TRAD), 2) if _TRAD[i] != _TRAD[i + 1]}

# ---- geography ----------------------------------------------------------------
# district: (GB/T 2260 code, code before 2001 or None, zone, kind, towns, short form)
# zones: A = CS0001 urban catchment, B = other urban, C = CS0002 rural catchment,
#        D = other counties, E = 长阳/五峰 (H003 catchment)
DISTRICTS = {
    "西陵区": ("420502", None, "B", "urban", "东湖街道 北山街道 望江街道 城东街道", "西陵"),
    "伍家岗区": ("420503", None, "B", "urban", "桂花岭街道 柏临街道 江南街道", "伍家岗"),
    "点军区": ("420504", None, "B", "urban", "江南街道 桥边镇 联棚乡", "点军"),
    "猇亭区": ("420505", None, "B", "urban", "古老背街道 云池街道", "猇亭"),
    "夷陵区": ("420506", "420521", "D", "rural", "黄柏河镇 龙潭镇 雾渡乡 分乡镇 太平溪镇", "夷陵"),
    "宜都市": ("420581", None, "D", "rural", "红花镇 松木坪镇 潘湾乡 陆城街道", "宜都"),
    "当阳市": ("420582", None, "D", "rural", "两河镇 庙前镇 玉阳街道 河溶镇", "当阳"),
    "枝江市": ("420583", None, "D", "rural", "白洋镇 董市镇 仙女镇 马家店街道", "枝江"),
    "远安县": ("420525", None, "D", "rural", "鸣凤镇 花林寺镇 茅坪场镇", "远安"),
    "兴山县": ("420526", None, "D", "rural", "古夫镇 峡口镇 高阳镇", "兴山"),
    "秭归县": ("420527", None, "D", "rural", "茅坪镇 归州镇 屈原镇 郭家坝镇", "秭归"),
    "长阳土家族自治县": (
        "420528",
        None,
        "E",
        "rural",
        "龙舟坪镇 磨市镇 渔峡口镇 资丘镇 榔坪镇",
        "长阳县",
    ),
    "五峰土家族自治县": ("420529", None, "E", "rural", "五峰镇 渔洋关镇 采花乡 湾潭镇", "五峰县"),
}
CS0001_STREET = ("伍家岗区", "桂花岭街道")  # zone A
CS0002_TOWN = ("夷陵区", "黄柏河镇")  # zone C
CLAN_VILLAGES = {"陈家冲村": "陈", "王家湾村": "王"}
CLAN_POEM = {"陈": "德国志文家子", "王": "正永学宗光浩"}  # generation character per birth cohort
VILLAGE_STEM = [
    "青龙",
    "白果",
    "桃花",
    "杨柳",
    "石门",
    "双河",
    "清水",
    "松林",
    "马鞍",
    "金竹",
    "茶园",
    "柑橘",
    "天坪",
    "柳林",
    "龙井",
    "黄岭",
    "高峰",
    "三溪",
    "枫香",
    "凤凰",
    "杉木",
    "岩屋",
]
VILLAGE_END = "村"
TERRAIN = ["湾", "冲", "坪", "岭", "河", "坡", "垭", "畈", "湖", "台"]
COMMUNITY_STEM = [
    "东山",
    "福寿",
    "万寿",
    "桂花",
    "滨江",
    "夷陵",
    "西坝",
    "北门",
    "南湖",
    "紫阳",
    "天宁",
    "长青",
    "和平",
    "星火",
    "学苑",
    "平湖",
]
ROAD = [
    "东山大道",
    "沿江大道",
    "夷陵大道",
    "胜利四路",
    "珍珠路",
    "云集路",
    "东湖路",
    "桂花路",
    "港窑路",
    "城东大道",
    "江城路",
    "解放路",
    "西陵一路",
    "体育场路",
    "中南路",
]
ESTATE = [
    "金色家园",
    "阳光花园",
    "滨江苑",
    "桂园小区",
    "东方明珠",
    "清江花城",
    "锦绣华城",
    "福星小区",
    "时代天骄",
    "夷陵春天",
]
# birthplaces of in-married spouses from outside Yichang (GB/T 2260)
OUTSIDE_CODES = [
    "420106",
    "420111",
    "421022",
    "422801",
    "420683",
    "421181",
    "420984",
    "422822",
    "430721",
    "500234",
    "420921",
]
CN_NUM = "零一二三四五六七八九十"

# ---- pinyin for every character above (generated once with pypinyin, then frozen;
#      surnames with a special reading fixed by hand: 覃 Qin, 曾 Zeng, 单 Shan) ------
_PY = (
    "一yi 丁ding 万wan 上shang 世shi 东dong 严yan 丹dan 丽li 义yi 之zhi 乐le 于yu 云yun 亭ting 亮liang 仁ren 付fu 仙xian "
    "任ren 伟wei 何he 余yu 佳jia 依yi 侠xia 俊jun 俐li 修xiu 倩qian 健jian 傅fu 元yuan 先xian 光guang 全quan 兰lan "
    "兴xing 兵bing 冉ran 军jun 冬dong 冯feng 凡fan 凤feng 凯kai 刘liu 刚gang 利li 勇yong 化hua 华hua 南nan 博bo 卢lu "
    "卫wei 友you 发fa 可ke 叶ye 司si 名ming 向xiang 吕lv 君jun 含han 启qi 吴wu 周zhou 和he 唐tang 嘉jia 国guo 均jun 坤kun "
    "堂tang 墙qiang 墨mo 夏xia 多duo 大da 天tian 奕yi 女nv 妍yan 姑gu 姚yao 姜jiang 娜na 娟juan 娥e 婴ying 婷ting 子zi "
    "孔kong 孙sun 学xue 宁ning 宇yu 安an 宋song 宏hong 宗zong 官guan 宜yi 宝bao 宣xuan 家jia 宸chen 富fu 寿shou 小xiao "
    "少shao 山shan 峰feng 峻jun 巧qiao 帅shuai 平ping 庆qing 廖liao 廷ting 建jian 张zhang 强qiang 彤tong 彩cai 彬bin "
    "彭peng 影ying 徐xu 得de 德de 心xin 志zhi 忠zhong 思si 怡yi 恺kai 悦yue 惠hui 慧hui 成cheng 戴dai 才cai 扬yang "
    "振zhen 敏min 文wen 斌bin 新xin 方fang 昊hao 昌chang 明ming 易yi 春chun 晓xiao 晖hui 晗han 晨chen 晴qing 晶jing "
    "智zhi 曦xi 曹cao 曾zeng 月yue 有you 朋peng 望wang 朱zhu 李li 杜du 杨yang 杰jie 松song 林lin 柳liu 根gen 桂gui "
    "桐tong 桦hua 梁liang 梅mei 梓zi 梦meng 森sen 欢huan 欣xin 欧ou 正zheng 武wu 毛mao 民min 永yong 汉han 汐xi 江jiang "
    "汪wang 沈shen 沐mu 泉quan 法fa 波bo 泽ze 洁jie 洋yang 浩hao 海hai 涛tao 涵han 淇qi 淑shu 清qing 溪xi 滔tao 滴di "
    "潘pan 潮chao 炜wei 炳bing 点dian 焕huan 然ran 煜yu 熊xiong 熙xi 燕yan 爱ai 玉yu 王wang 玫mei 玮wei 玲ling 珍zhen "
    "琦qi 琪qi 琳lin 琴qin 琼qiong 瑛ying 瑞rui 瑶yao 璐lu 生sheng 田tian 白bai 皓hao 真zhen 睿rui 石shi 磊lei 祥xiang "
    "福fu 秀xiu 秦qin 程cheng 立li 章zhang 米mi 素su 紫zi 红hong 纯chun 纳na 绍shao 继ji 罗luo 美mei 羽yu 翔xiang 翠cui "
    "肖xiao 胜sheng 胡hu 腊la 航hang 良liang 艳yan 艾ai 芝zhi 花hua 芳fang 芷zhi 苏su 若ruo 英ying 茂mao 范fan 茜qian "
    "荣rong 莉li 莲lian 莹ying 菊ju 菲fei 萃cui 萍ping 萧xiao 萱xuan 葛ge 董dong 蒋jiang 蓉rong 蔡cai 蕾lei 薛xue "
    "虹hong 袁yuan 覃qin 许xu 诗shi 语yu 诸zhu 诺nuo 谢xie 谭tan 豪hao 贞zhen 财cai 贵gui 贾jia 赵zhao 超chao 跃yue "
    "轩xuan 辉hui 辰chen 遥yao 邓deng 邱qiu 邹zou 郑zheng 郝hao 郭guo 金jin 鑫xin 钟zhong 钢gang 铭ming 银yin 锋feng "
    "锦jin 长chang 阳yang 陆lu 陈chen 隆long 雄xiong 雅ya 雨yu 雪xue 雯wen 雷lei 霖lin 霞xia 靖jing 静jing 韩han "
    "项xiang 顺shun 颖ying 风feng 飞fei 香xiang 馨xin 马ma 骏jun 高gao 魏wei 鹃juan 鹏peng 黄huang 黎li 龄ling 龙long "
    "龚gong"
)
PINYIN = {w[0]: w[1:] for w in _PY.split()}
