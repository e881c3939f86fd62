"""The words free-text instructions are read by, English and Chinese (simplified and common
traditional forms). Dialect names come from the registered dialect packs, not from here."""

from __future__ import annotations

# word: (emotion, the intensity it says by itself, 1-5; a modifier next to it replaces that)
EMOTION_WORDS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(
        ["happy", "happily", "cheerful", "cheerfully", "joyful", "joyfully", "joyous", "glad",
         "gladly", "merry", "upbeat", "in a good mood", "smiling", "with a smile",
         "高兴", "高興", "开心", "開心", "快乐", "快樂", "愉快", "欢快", "歡快", "喜悦", "喜悅",
         "欢乐", "歡樂", "欣喜", "快活", "乐呵呵", "高高兴兴", "开开心心", "喜气洋洋", "笑着"],
        ("happy", 3),
    ),
    **dict.fromkeys(["pleased", "pleasant", "pleasantly"], ("happy", 2)),
    **dict.fromkeys(
        ["excited", "excitedly", "delighted", "enthusiastic", "enthusiastically", "laughing",
         "兴奋", "興奮", "激动", "激動", "雀跃"],
        ("happy", 4),
    ),
    **dict.fromkeys(
        ["elated", "ecstatic", "thrilled", "overjoyed", "jubilant", "欣喜若狂", "狂喜"],
        ("happy", 5),
    ),
    **dict.fromkeys(
        ["angry", "angrily", "mad", "indignant", "indignantly", "crossly", "生气", "生氣",
         "恼火", "惱火", "气愤", "氣憤", "恼怒", "惱怒", "火大", "气呼呼", "氣呼呼"],
        ("angry", 3),
    ),
    **dict.fromkeys(
        ["annoyed", "irritated", "frustrated", "grumpy", "不耐烦", "不耐煩", "烦躁", "煩躁"],
        ("angry", 2),
    ),
    **dict.fromkeys(
        ["irate", "shouting", "yelling", "愤怒", "憤怒", "发火", "發火"], ("angry", 4)
    ),
    **dict.fromkeys(
        ["furious", "furiously", "enraged", "livid", "outraged", "fuming", "in a rage",
         "暴怒", "怒气冲冲", "怒氣沖沖", "大发雷霆"],
        ("angry", 5),
    ),
    **dict.fromkeys(
        ["sad", "sadly", "unhappy", "unhappily", "sorrowful", "sorrowfully", "mournful",
         "mournfully", "melancholy", "melancholic", "gloomy", "gloomily", "somber", "sombre",
         "downcast", "dejected", "upset", "悲伤", "悲傷", "伤心", "傷心", "难过", "難過",
         "哀伤", "哀傷", "忧伤", "憂傷", "悲哀", "沮丧", "沮喪", "低落", "委屈", "不开心",
         "不開心", "不高兴", "不高興"],
        ("sad", 3),
    ),
    **dict.fromkeys(["wistful", "wistfully", "disappointed", "失落", "失望"], ("sad", 2)),
    **dict.fromkeys(
        ["depressed", "miserable", "tearful", "tearfully", "grieving", "哭腔", "带着哭腔"],
        ("sad", 4),
    ),
    **dict.fromkeys(
        ["heartbroken", "devastated", "crying", "sobbing", "悲痛", "心碎", "痛哭", "悲痛欲绝"],
        ("sad", 5),
    ),
    **dict.fromkeys(
        ["coy", "coyly", "coquettish", "coquettishly", "flirty", "flirtatious",
         "flirtatiously", "cutesy", "pouty", "pouting", "sweet-talking", "acting cute",
         "撒娇", "撒嬌", "娇嗔", "嬌嗔", "发嗲", "發嗲", "嗲声嗲气", "嗲聲嗲氣", "娇滴滴",
         "嬌滴滴", "卖萌", "賣萌", "嗲"],
        ("coy", 3),
    ),
    # Step-Audio's own tags written into the instructions: the top of each level's range
    "高兴1": ("happy", 3),
    "高兴2": ("happy", 5),
    "生气1": ("angry", 3),
    "生气2": ("angry", 5),
    "悲伤1": ("sad", 3),
    "撒娇1": ("coy", 3),
}  # fmt: skip

# word: (direction, strength): -1 slower, 1 faster; strength as a modifier's, 3 when plain
SPEED_WORDS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        ["slow", "slowly", "slower", "slow down", "slowed down", "unhurried", "leisurely",
         "at a slow pace", "take your time", "drawn out", "慢", "慢速", "慢慢", "慢慢地",
         "放慢", "缓慢", "緩慢", "慢吞吞", "慢悠悠", "语速慢", "語速慢", "慢速1"],
        (-1, 3),
    ),
    **dict.fromkeys(["慢点", "慢點", "慢些"], (-1, 1)),
    "慢速2": (-1, 4),
    **dict.fromkeys(
        ["fast", "faster", "quickly", "quick", "quicker", "rapidly", "rapid", "hurried",
         "hurriedly", "speed up", "sped up", "briskly", "brisk", "at a fast pace", "in a hurry",
         "快", "快速", "加快", "语速快", "語速快", "急促", "飞快", "飛快", "迅速", "快速1"],
        (1, 3),
    ),
    **dict.fromkeys(["快点", "快點", "快些"], (1, 1)),
    "快速2": (1, 4),
}  # fmt: skip

SPEED_BY_STRENGTH: dict[int, dict[int, float]] = {
    # strength 1-5 (as modifiers give it) to a speed factor; see step_audio_tags for the tags
    -1: {1: 0.87, 2: 0.87, 3: 0.8, 4: 0.65, 5: 0.5},
    1: {1: 1.15, 2: 1.15, 3: 1.25, 4: 1.5, 5: 1.8},
}

MODE_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ["rap", "raps", "rapping", "rapped", "as a rap", "说唱", "說唱", "饶舌", "饒舌"], "rap"
    ),
    **dict.fromkeys(
        ["sing", "sings", "singing", "sung", "as a song", "唱", "唱歌", "唱出来", "唱出來",
         "歌唱", "演唱"],
        "sing",
    ),
    **dict.fromkeys(
        ["hum", "hums", "humming", "hummed", "哼唱", "哼歌", "哼着", "哼著", "哼出来"], "hum"
    ),
}  # fmt: skip

# word: (intensity it gives, where it stands): "pre" before the word, "post" after ("开心一点")
MODIFIERS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(
        ["a bit", "a little", "a little bit", "a tad", "a touch", "slightly", "mildly",
         "faintly", "barely", "有点", "有點", "有点儿", "有一点", "有一點", "稍微", "稍稍", "稍",
         "略", "略微", "略带", "略帶", "微微", "带点", "帶點", "带一点", "帶一點", "些许"],
        (1, "pre"),
    ),
    **dict.fromkeys(["一点", "一點", "一点儿", "一些", "点", "點", "些"], (1, "post")),
    **dict.fromkeys(
        ["somewhat", "fairly", "rather", "kind of", "kinda", "sort of", "moderately", "比较",
         "比較", "还算", "還算"],
        (2, "pre"),
    ),
    **dict.fromkeys(
        ["very", "really", "so", "truly", "deeply", "highly", "quite", "pretty", "很", "挺",
         "真", "好", "蛮", "蠻", "相当", "相當"],
        (4, "pre"),
    ),
    **dict.fromkeys(
        ["extremely", "super", "incredibly", "insanely", "intensely", "utterly", "totally",
         "absolutely", "immensely", "wildly", "overwhelmingly", "exceptionally", "very very",
         "really really", "非常", "特别", "特別", "十分", "超级", "超級", "超", "极其", "極其",
         "极度", "極度", "无比", "無比", "万分", "萬分", "太"],
        (5, "pre"),
    ),
    **dict.fromkeys(["极了", "極了", "得不得了", "死了", "坏了", "壞了"], (5, "post")),
}  # fmt: skip

NEGATIONS = ("not", "never", "don't", "dont", "do not", "no longer", "without being", "不",
             "别", "別", "不要", "没有", "沒有", "毫不", "不太", "不怎么", "不怎麼")  # fmt: skip
