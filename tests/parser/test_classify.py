"""Kind and category rules, with phrasings of our own (not the corpus sentences)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handlers.parsing import Parser, parse


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("9号楼厨房着火啦，火很大，快来人", "fire"),
        ("3号楼起火了，浓烟很大", "fire"),
        ("隔壁著火了，快跑", "fire"),
        ("小孩玩火把纸箱点着了，已经扑灭了", "fire"),
        ("三栋二单元有股很浓的天然气味道，是不是哪家漏了", "gas"),
        ("楼道里煤气味很重", "gas"),
        ("快来人，我家老头在卫生间摔了一跤，起不来了，头上都是血", "casualty"),
        ("隔壁阿姨突然倒地，口吐白沫，已经打了120", "casualty"),
        ("小区后面池塘有个小孩掉下去了", "casualty"),
        ("楼上有人吵架，男的拿菜刀要砍人", "violence"),
        ("我老公喝醉了打我，我现在躲在厕所", "violence"),
        ("我家老爷子有点糊涂，早上出去买菜到现在还没回来", "missing"),
        ("有个老太太坐在小区门口哭，说找不到家了", "missing"),
        ("他说活着太累了，要吃药自杀", "self_harm"),
        ("11號樓3單元有人跳樓了", "self_harm"),
        ("小区门口围了好几十个人，说物业乱收费，要讨个说法", "mass_incident"),
        ("几十个工人拉横幅讨薪", "mass_incident"),
        ("暴雨导致5栋地下室进水，水深半米", "disaster"),
        ("1单元门口的地面塌了个大坑", "disaster"),
        ("大风把树刮倒了，砸到了车", "disaster"),
    ],
)
def test_major(text: str, category: str) -> None:
    r = parse(text, role="resident")
    assert (r.kind, r.category) == ("major", category)


@pytest.mark.parametrize(
    "text",
    [
        "今日巡查：未发现燃气泄漏，无人员聚集，零报告",
        "今天巡查正常，没发现着火冒烟，也没闻到煤气味",
        "5号楼各楼层巡查一遍，无安全隐患，无矛盾纠纷",
        "8栋无异常",
        "今天巡了3个单元，一切都好",
        "巡查完了，没有问题",
        "本网格今日平安",
        "重大情况：无\n基本情况：无",
        "檢查了消防栓和滅火器，都在有效期內，無隱患",
    ],
)
def test_zero_report(text: str) -> None:
    assert parse(text, role="leader").kind == "zero_report"


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("【消防演练通知】周六上午在广场开展消防演练，会有烟雾，请勿惊慌", "supervisor"),
        ("【应急演练】明天上午开展燃气泄漏疏散演练", "supervisor"),
        ("【停水通知】明天9点至17点停水", "supervisor"),
        ("紧急通知！本店水果大促销，苹果只要3.9一斤", "merchant"),
        ("重大好消息，家电清洗特价，私聊我预约", "merchant"),
        ("新闻里说外地一个小区着火了，大家注意安全", "resident"),
        ("谢谢网格员，辛苦了", "resident"),
        ("好的收到", "leader"),
        ("[图片]", "resident"),
        ("👍👍", "resident"),
        ("不是着火，是楼下在烧纸", "resident"),
        ("@所有人 明天降温，家中有独居老人的请多关心", "supervisor"),
    ],
)
def test_other(text: str, role: str) -> None:
    r = parse(text, role=role)
    assert r.kind == "other", r


@pytest.mark.parametrize(
    ("text", "category", "handled"),
    [
        ("5栋楼道有块电动车电池鼓包了，已移到室外，没有起火，没有人员受伤", "safety", True),
        ("无重大情况。基本情况：5栋2单元一楼有电动车停放在楼道，已劝离", "safety", True),
        ("6栋2单元楼道杂物已督促住户清理干净", "safety", True),
        ("3号楼302与402因漏水问题发生纠纷，已调解完毕", "dispute", True),
        ("楼上装修噪音太大了，中午都不让人休息", "dispute", False),
        ("隔壁养了十几只鸽子，到处是鸟屎", "sanitation", False),
        ("楼道的灯坏了好久了，有人管吗", "facility", False),
        ("有陌生人在车棚里偷电瓶", "security", False),
        ("社保卡丢了怎么补办？", "livelihood", False),
        ("走访了12栋的孤寡老人李奶奶，身体还行", "care", False),
        ("我家的狗跑丢了，黄色的，看到的告诉我", "other", False),
        ("楼上阳台的花盆一刮风就晃，怕掉下来砸到人", "safety", False),
        ("已通知住户限期清理楼道纸箱", "safety", False),
        ("谁家的狗没拴绳，在小区里追着小孩跑，小孩吓哭了", "dispute", False),
        ("刚才有个小偷在6栋偷东西被保安抓住了，已经送派出所了", "security", True),
    ],
)
def test_basic(text: str, category: str, handled: bool) -> None:
    r = parse(text, role="resident")
    assert (r.kind, r.category, r.handled) == ("basic", category, handled), r
    assert r.grade_hint in ("A", "B", "C")


@pytest.mark.parametrize(
    ("text", "handled"),
    [
        # done, told by what it left, whoever did it and whatever came between
        ("3栋门口有一滩油污，已经叫保洁冲洗干净了", True),
        ("地下室积水，物业已经用水泵抽干", True),
        ("楼道里私拉的电线已经让住户剪掉了", True),
        ("5栋两口子在楼道吵架，我过去已经劝回屋了", True),
        ("楼顶违建隐患已经排除", True),
        # said in one word at the clause's end
        ("9幢垃圾桶满溢 已清运", True),
        ("楼道堆物已清，电动车已推出", True),
        # only told to, not done; not done yet; asked
        ("8栋楼道堆了纸箱，已通知住户今天清走", False),
        ("6栋楼道的柴火，已经跟住户说了让他们明天搬走", False),
        ("3栋楼道里的旧沙发，已经叫住户今晚之前清走", False),
        ("4栋门口的电动车，已经喊车主明天之内挪走", False),
        ("楼道的垃圾已经三天没清走了", False),
        ("8栋楼道里堆的杂物已经清走了吗", False),
    ],
)
def test_handled_by_its_result(text: str, handled: bool) -> None:
    r = parse(text, role="leader")
    assert (r.kind, r.handled) == ("basic", handled), r


def test_grade_hints() -> None:
    assert parse("楼道垃圾没人清", role="resident").grade_hint == "A"
    assert parse("电梯坏了三天了", role="resident").grade_hint == "B"
    assert parse("顶楼住户私搭彩钢棚", role="leader").grade_hint == "C"


def test_quote_only_reply_counts() -> None:
    quoted = "「张网格长：东门今日巡查无异常」\n- - - - - - - - - - - - - - -\n东门有几个人打起来了，快报警"
    assert (parse(quoted).kind, parse(quoted).category) == ("major", "violence")
    thanks = "「王网格长：5栋楼道杂物已清理完毕」\n- - - - - - - - - - - - - - -\n辛苦了[强]"
    assert parse(thanks).kind == "other"


SEP = "\n- - - - - - - - - - - - - - -\n"


@pytest.mark.parametrize(
    ("quote", "reply", "expected"),
    [
        # the reply bears the quote out: read together, with the quote's address
        ("「李师傅：9栋楼道有煤气味」", "我也闻到了，越来越重了", ("major", "gas", 9)),
        ("「王姐：12栋楼顶在冒烟」", "还在冒，烟更大了", ("major", "fire", 12)),
        ("「刘阿姨：3栋电梯又坏了」", "我们也遇到了，卡了半天", ("basic", "facility", 3)),
        # an answer that does not (收到, on my way; a rumour put right) stands alone
        ("「李姐：5栋楼道冒烟了！」", "收到，马上过去", ("other", None, None)),
        ("「张阿姨：楼下着火了」", "没有着火，是有人在烧秸秆", ("other", None, None)),
        # a reply that answers how a quoted matter stands is read with it
        ("「李姐：是不是11栋有人晕倒了？」", "是的，就在3楼楼梯口，已经打了120", ("major", "casualty", 11)),
        ("「王：燃气公司马上到，还有味道吗？」", "还是很冲，都下楼了，不敢开灯", ("major", "gas", None)),
        ("「李：请问是谁家的电动车在楼道充电？」", "是2单元的，线从窗户拉进来的", ("basic", "safety", None)),
        # a bare acknowledgement answers nothing; an appointment is no matter
        ("「李姐：是不是11栋有人晕倒了？」", "收到", ("other", None, None)),
        ("「住户小周：师傅几点来？」", "下午三点左右，到了给您打电话", ("other", None, None)),
        # an answer that says no is read alone; a quote forwarded as the matter is read with it
        (
            "「张阿姨：8栋门口是不是有人晕倒了？」",
            "没有没有 我刚下去问了 是喝多了在坐着",
            ("other", None, None),
        ),
        (
            "「李姐：我老公又喝多了在家砸东西 说要弄死我 我躲在卫生间不敢出去」",
            "书记，这是8栋502的李姐刚发我的，我已经打110了",
            ("major", "violence", 8),
        ),
        # a quote passed on with nothing added is the message
        ("「张姐：8栋楼道有煤气味，越来越浓」", "", ("major", "gas", 8)),
        # 有没有哪个 asks as 有没有人 does: the answer is read with it
        (
            "「张嬢嬢：有没有哪个看到一个七八岁的男娃娃 放学到现在都没回来」",
            "是11栋的孙孙 大家帮忙找一哈",
            ("major", "missing", 11),
        ),
        # agreed to, then told more of: the quote says what, the reply where
        ("「张阿姨：楼道灯又坏了」", "对，5栋2单元三楼到六楼都是黑的", ("basic", "facility", 5)),
        (
            "「李姐：16栋的老赵好像从楼梯上摔下来了」",
            "对 我刚到 头上流了好多血 人迷迷糊糊的",
            ("major", "casualty", 16),
        ),
        # goes on about the one the quote names
        ("「张姐：有人在5栋楼顶」", "他在楼顶边上坐着，一直在哭，说不想活了", ("major", "self_harm", 5)),
        # a reply that denies what the quote asks stands alone: nobody fought
        (
            "「张阿姨：北门那边是不是有人打架？」",
            "没打架，是两个司机嗓门大在对账，已经走了",
            ("other", None, None),
        ),
    ],
)
def test_reply_that_bears_out_its_quote(quote: str, reply: str, expected: tuple[object, ...]) -> None:
    r = parse(quote + SEP + reply, role="resident")
    assert (r.kind, r.category, r.building) == expected
    assert r.text == parse(reply).text  # the record keeps the reply as written


def test_major_not_in_kind_other_fields() -> None:
    r = parse("4栋602窗户在冒黑烟，已经打了119")
    assert (r.kind, r.category, r.building, r.room, r.floor) == ("major", "fire", 4, "602", None)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # a negation at the end of a sign denies nothing found: someone unseen for a week
        ("楼上有很浓的臭味，敲门无人应答，住户是独居老人，已经一周没见到", "major"),
        ("燃气管道巡查没有发现漏气", "other"),  # here it does: nothing found
        # a drill denied is the real thing
        ("不是演习！真的着火了！9栋12楼！", "major"),
        ("今天不是演练，是真的着火了，8栋那边！", "major"),  # (那边 is where, not "then")
        ("不是消防演习，8栋真着火了", "major"),
        ("8栋楼下在搞消防演练，烟很大，大家别怕", "other"),
        ("明天消防演习，到时候会有烟，大家别慌", "other"),
        # would it catch fire? feared, not seen; is it burning now? asked of what is seen
        ("对面楼有人在阳台上烧东西，烟好大，会不会着火", "basic"),
        ("5栋冒烟了，会不会着火了快去看看", "major"),
        # a warning that tells of someone seen at it here is a report
        ("有个男的在小区里尾随女孩子，穿黑衣服戴口罩，大家注意", "basic"),
        ("最近天冷，大家注意保暖", "other"),
        # grass grown to the knees is no flood
        ("物业什么时候来收拾一下草坪？草都长到膝盖了，蚊子好多", "basic"),
        ("地下车库的水已经到膝盖了，还在往里灌", "major"),
        # a smell gone by now is no leak (a breath gone is the worst there is)
        ("刚才那个煤气味已经没有了，应该是谁家开火没点着", "basic"),
        ("老人已经没有了呼吸", "major"),
        # what a fire would do is no fire; a fire that has trapped people is
        ("消防通道被私家车堵了，着火了消防车都进不来", "basic"),
        ("楼道堆成这样，燃气泄漏了都跑不出去", "basic"),
        ("着火了！人都跑不出去了！", "major"),
        ("3栋着火了，楼上的人跑不出来了", "major"),
    ],
)
def test_negations_that_deny_and_negations_that_tell(text: str, kind: str) -> None:
    assert parse(text, role="resident").kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # checked, and none of it there: a zero report; unless found missing on the way
        ("排查了全部楼道，并无堆放杂物、飞线充电现象", "zero_report"),
        ("巡查了5栋，3单元没有灭火器", "basic"),
        ("俺们这片今儿个啥事儿没有，挺消停", "zero_report"),
        ("地下室、锅炉房、车棚都看过了，未见异常", "zero_report"),
        ("放学时段南门值守结束，秩序正常，未发现可疑人员", "zero_report"),
        ("0", "zero_report"),
        # dialects: Wu, Northwest, Southwest
        ("阿拉今朝兜了一圈，么啥事体，一切太平", "zero_report"),
        ("沙尘暴过后转了一圈，楼顶、广告牌、雨棚都看了，没麻达", "zero_report"),
        ("今天我们这片都好，莫得啥子要报的", "zero_report"),
        ("楼道、电动车棚、消防栓都看过了，没发现问题", "zero_report"),
        ("早晚两趟巡楼，啥情况没有", "zero_report"),
        ("九棟今日巡樓完畢，無事發生 ✅", "zero_report"),
        ("5栋 无", "zero_report"),
        ("0报告", "zero_report"),
        ("今日巡查OK，冇乜特別，報個零", "zero_report"),
        ("报告网格长 今天三个单元都走了一遍 冇得么子事", "zero_report"),
        ("ling bao gao~ jin tian yi qie zheng chang", "zero_report"),
        ("@所有人 9号楼今日无情况", "zero_report"),
        # nothing found but the work done on the round is a record of it
        ("今天巡楼把8号楼三楼消防通道堆的旧沙发和纸壳子清走了，通道已经畅通", "basic"),
        ("@所有人 明天上午停水，请提前储水", "other"),
        # it was elsewhere, all is well here: a word to calm, not a report of nothing
        ("刚才楼下过去好几辆消防车是去隔壁小区的，咱们这边没事，大家别慌", "other"),
        # some of those checked are not in order
        ("今天10栋入户查燃气，没发现漏气的，有3户软管老化，已提醒他们尽快更换", "basic"),
        ("今天7号楼没事，8号楼1单元有户人家门口放了煤气罐，已经提醒了", "basic"),
    ],
)
def test_a_patrol_that_found_none_of_it(text: str, kind: str) -> None:
    assert parse(text, role="member").kind == kind


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        # told for fun: two keyword points at most, and a laugh
        ("楼下两个大爷下棋吵得面红耳赤，差点掀桌子，笑死", "resident", "other"),
        ("我家娃打游戏一晚上喊“着火了快跑”，吓我一跳哈哈", "resident", "other"),
        # a joke denied is meant: 不像开玩笑
        ("对门大姐刚才跟我说她不想活了，药都攒好了，我听着不像开玩笑", "resident", "major"),
        # a question someone asked, quoted, reports nothing
        ("有居民问“闻到煤气味怎么办”，统一回复：先开窗关阀，到楼外再拨燃气热线", "leader", "other"),
        # a shop in a merchant grid reports on itself
        ("本店今日自查，灭火器在位，燃气管道无泄漏，无异常", "merchant", "zero_report"),
        ("爆炸价！鲜猪肉今天只要12元一斤，先到先得", "merchant", "other"),
        # a series in the news cue; not 急剧 (水位急剧上涨 is a flood)
        ("昨晚追的剧里那个小孩走丢了，哭得我稀里哗啦的", "resident", "other"),
        ("河水水位急剧上涨，已经漫到车门了", "resident", "major"),
    ],
)
def test_fun_citations_and_merchants(text: str, role: str, kind: str) -> None:
    assert parse(text, role=role).kind == kind


@pytest.mark.parametrize(
    ("text", "kind", "category"),
    [
        # regional speech (Sichuan 莫得, Cantonese 未返/而家) read in the rules' words
        ("隔壁王嬢嬢两天莫看到人了，喊门喊了好久都莫得人答应", "major", "casualty"),
        ("我阿爸今朝早出门到而家都未返，佢有认知障碍", "major", "missing"),
        # a gas smell without the word 泄漏
        ("一进门就一股臭鸡蛋味，越往三楼越浓，闻着像煤气", "major", "gas"),
        ("燃气表旁边的报警器一直在叫，一股怪味", "major", "gas"),
        ("后山那块坡往下滑了，泥已经推到11栋后墙根了", "major", "disaster"),
        ("隔壁烧烤店后厨油锅窜上去了，抽油烟机口都红了，店里人全往外跑", "major", "fire"),
        # 老化了 is not 化了 (melted); a tree cleared last week is over
        ("8栋顶楼走廊的电线都老化了，外皮都裂开，会不会有危险？", "basic", "safety"),
        ("上周台风刮倒的那棵树，园林已经清理走了，路已恢复通行", "basic", "facility"),
    ],
)
def test_signs_without_the_textbook_word(text: str, kind: str, category: str) -> None:
    result = parse(text, role="resident")
    assert (result.kind, result.category) == (kind, category)


@pytest.mark.parametrize(
    ("text", "role", "kind", "category"),
    [
        # a storm named with no damage is a forecast or an all-clear, not a disaster
        ("台风要来了，楼顶的太阳能支架锈得厉害，会不会被吹下来啊", "resident", "basic", "safety"),
        ("台风过后对12号楼外墙、门窗、楼顶全面排查，未发现安全隐患", "leader", "zero_report", None),
        ("台风把5栋楼顶的广告牌吹得摇摇欲坠", "resident", "major", "disaster"),
        # a colon ends the reach of a cue: 注意 does not make the flood imagined
        ("各网格注意：河水漫上来了，还有几户老人没出来，立即组织转移！", "supervisor", "major", "disaster"),
        # a robbery under way, and one already with the police
        ("有人在小区里抢了一个老太太的金项链，往北门跑了，穿黑衣服！", "resident", "major", "violence"),
        ("我老公下班路上被人抢了包，现在在派出所做笔录", "resident", "basic", "security"),
        ("南门被几十个业主用车堵死了，抗议开发商违规加建", "resident", "major", "mass_incident"),
    ],
)
def test_storms_robberies_and_crowds(text: str, role: str, kind: str, category: str | None) -> None:
    result = parse(text, role=role)
    assert (result.kind, result.category) == (kind, category)


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        # neighbours among themselves: recommendations, offers, lost and found, a game
        ("谁知道附近哪家幼儿园好点？明年娃该上了", "resident", "other"),
        ("有人在电梯里捡到一串钥匙吗？上面挂着个小熊", "resident", "other"),
        ("有人打麻将吗 三缺一", "resident", "other"),
        # taken back, and the heat said big
        ("刚才是误报，没有着火，是楼下有人烧烤冒的烟，大家别担心", "resident", "other"),
        ("今天热死了 出门五分钟感觉人要着火了", "resident", "other"),
        # a story of thanks for help that is over; a thing that fell, not a person
        ("谢谢小王。上个月我家老头子突发脑梗，小王叫的救护车，现已出院，能拄拐走路了", "resident", "other"),
        ("前两天我看见一块瓷砖从上面掉下来，幸好没砸到人，请尽快通知住户整改", "resident", "basic"),
        # still major: someone who fell
        ("有个装修工人从梯子上摔下来了，趴在地上起不来", "resident", "major"),
    ],
)
def test_neighbours_retractions_and_stories(text: str, role: str, kind: str) -> None:
    assert parse(text, role=role).kind == kind


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # a sign of another category inside a long hit still counts (the gas leak)
        ("4栋602独居老人家里煤气味特别大，敲门没人开，可能是灶没关", "gas"),
        # but a long hit's own last words are its evidence (喊救命 here is no assault)
        ("３號樓的電梯卡住了，裡面有個老人在喊救命", "casualty"),
    ],
)
def test_signs_inside_a_long_hit(text: str, category: str) -> None:
    result = parse(text, role="resident")
    assert (result.kind, result.category) == ("major", category)


@pytest.mark.parametrize(
    ("text", "kind", "category"),
    [
        # a parcel that ticks, a shell that did not go off
        ("快递柜旁边有个没人认领的包裹，露着电线还有滴答声，已经让大家离远点", "major", "other"),
        ("河边步道旁边有个生锈的东西，像是没爆的炮弹，娃娃们在围到看", "major", "other"),
        # an e-bike that flares up is a fire; a heating pipe is no gas pipe
        ("二十三栋二单元五楼电动车充电爆燃，火很大，大家赶紧往下走", "major", "fire"),
        ("３號樓２單元暖氣管子漏水，物業師傅已經換了閥門，修好了", "basic", "facility"),
        # days unseen but answering the door is a care matter
        ("3栋独居的陈爷爷好几天没下楼了，敲门有应答，说是腿痛走不动，要人帮忙买点药", "basic", "care"),
        ("有个男的一直在撬电梯旁边的门，刚才还打了保安一拳，现在人还在12栋大堂", "major", "violence"),
    ],
)
def test_parcels_flares_pipes_and_punches(text: str, kind: str, category: str) -> None:
    result = parse(text, role="resident")
    assert (result.kind, result.category) == (kind, category)


def test_a_prefer_rule_naming_an_unknown_cue_list_is_refused(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "config" / "parser"
    for path in source.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    basic = tmp_path / "basic.yaml"
    text = basic.read_text(encoding="utf-8").replace("cue: visit,", "cue: vizit,")
    basic.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="prefer: unknown cue list 'vizit'"):
        Parser(tmp_path)


@pytest.mark.parametrize(
    ("text", "kind", "category"),
    [
        # a feeling overstated is no emergency; the same words told straight are
        ("被娃的作业气到心梗💔 十点半了还在磨 救命", "other", None),
        ("今日热到爆炸 成个人快着火咁🔥🥵", "other", None),
        ("3楼有人晕倒了，救命，快打120", "major", "casualty"),
        # a burnt pot explained afterwards; neighbours only thought it a fire
        ("刚刚6栋有家煮饭把锅烧糊了 烟子冒到楼道头 有人以为着火了 没有明火 已经处理好了", "other", None),
        # a parcel gone is theft; a child gone is a missing person
        ("有人在快递柜偷快递!!! 我家两个包裹不见了 大家留意下", "basic", "security"),
        ("5号楼李大爷有点老年痴呆，戴狗皮帽子，早上出门到现在没回来", "major", "missing"),
        # a socket burnt black is a fault to fix, unless it is burning still
        ("屋里电线老化 插座都烧黑了 能不能找个电工给看看", "basic", "safety"),
        ("楼道里电动车在充电，线都烧黑了", "major", "fire"),
        # a house on the unsafe list checked on a patrol; a suspect device; fouled drinking water
        ("巡了一圈 河堤 低洼户 危房都看了 未发现险情 排水沟也畅通", "zero_report", None),
        ("茶馆门口有个黑色的包 看到里头有电线和一个钟一样的东西", "major", "other"),
        ("二次供水的水箱盖被撬开了 物业师傅说里头飘起一只死猫", "major", "other"),
        # forwarded news of elsewhere; a forwarded notice of our own missing neighbour
        ("【转发】信阳固始暴雨 多个村庄被淹 部分房屋倒塌", "other", None),
        ("【转】寻人启事：本小区12栋的李大爷今早出门买菜到现在没回来，有老年痴呆", "major", "missing"),
        # a crack that keeps growing; a wheelchair that will not move is no person
        ("1号楼东山墙那道裂缝这两天越裂越大 今早咔嚓响了一声 楼里的人都不敢待了", "major", "disaster"),
        ("3幢那个残疾的老张 轮椅坏了推不动 家里也没人照顾 能帮他申请个新的吗", "basic", "care"),
        # what a fall would do; a trapping said not to have happened
        ("8栋六楼阳台花盆摆在栏杆外头，掉下来要砸到人，请住户搬进去", "basic", "safety"),
        ("6号楼电梯又坏了 困人倒是没有 就是停那儿不动了 老人上下楼太费劲", "basic", "facility"),
        # a fire of last night, out and cleared, is told for the record; one put out just now is reported
        ("昨晚15栋楼道电动车电池冒烟起了点小火，已经扑灭了，今天已把车清出楼道", "basic", "safety"),
        ("昨晚9栋厨房起火，已扑灭，无人员伤亡，现场已清理", "basic", "safety"),
        ("3栋一楼商铺后厨油锅起火，已扑灭，无人员受伤，消防已到场", "major", "fire"),
        # a crowd at an office door trying to force it; a crowd round a street seller
        ("街道办门口围了三十几个渔民 讲补贴没发 要冲进去", "major", "mass_incident"),
        # a run-on without punctuation: the 没 of 没拴绳 does not reach the blood a clause later
        ("三号门滑梯旁边一条大狗没拴绳把一个小女孩扑倒咬了脸上腿上都是血赶紧叫救护车啊", "major", "casualty"),
        ("我们小区车位没划线 停车乱得很 物业一直不管", "basic", "dispute"),
        # a lift out of order with nobody inside; someone let out, told afterwards
        ("16号楼2单元的电梯又停了 楼上的老人下不来 电话也打不通", "basic", "facility"),
        ("昨晚7号楼电梯停电困人那事，人已经救出来了，没人受伤，今天上午电梯已修复", "basic", "facility"),
        # a life-support machine stopped by a power cut
        ("停电了 我爸在家用制氧机 机器停了 备用的氧气瓶只够半小时 住4号楼", "major", "other"),
        # a complaint overstated, and thanks for an ambulance called yesterday
        ("九栋楼上那家装修三个月了 每天电锤从早砸到晚 我想死的心都有了 物业到底管不管", "basic", "dispute"),
        ("谢谢网格长昨天帮忙叫救护车，我爸已经脱离危险了，在住院观察", "other", None),
        # what nearly happened; a reminder to guard against poisoning; a break-in still going on
        ("东门那段路被渣土车压出好几个大坑 一下雨全是积水 电动车骑过去差点摔了", "basic", "facility"),
        ("冬天到了 大家注意防火 防煤气中毒 睡觉前关好阀门", "other", None),
        ("东门那排商铺有三个人在撬卷帘门 现在还在撬 保安呢", "major", "violence"),
        ("凌晨2点多有人在撬我家隔壁的门，我喊了一声就跑了", "basic", "security"),
        ("九栋的陈伯说去女儿家住几天，女儿说他根本没去过，手机一直关机，到处都找不到人", "major", "missing"),
        # a cue after a hit reaches only so far in a run-on (…救护车进不来 is no what-if of the fall)
        (
            "工地上有个工人从架子上摔下来了好多血叫他也不怎么答应已经打了120了你们物业谁过来帮下忙把大门打开救护车进不来",
            "major",
            "casualty",
        ),
        # 防走失 is a device; a volunteer offers to search some day; things broken are no assault
        ("请问社区那个给失智老人免费发的防走失手环还有吗？我爸最近有点糊涂了", "basic", "care"),
        ("隔壁602装修把水管打破了 水渗到我家墙里 找他赔他不认 麻烦帮忙调解一下", "basic", "dispute"),
        ("刚才2号楼电梯困人，维保已经到场把人放出来了，没有人受伤，电梯暂停使用等检修", "basic", "facility"),
        ("楼道这两天有股怪味 说不上来 不像煤气 有点像死老鼠 臭得很 6栋二单元", "basic", "sanitation"),
    ],
)
def test_overstatement_explanations_and_things_that_only_look_alike(
    text: str, kind: str, category: str | None
) -> None:
    r = parse(text, role="member" if kind == "zero_report" else "resident")
    assert (r.kind, r.category) == (kind, category)


@pytest.mark.parametrize(
    ("text", "kind", "category"),
    [
        # Cantonese, Shanghainese, north-eastern and Sichuan words read as the rules' words
        ("5栋天台有个男人瞓喺地下成个钟都冇郁过 叫佢都唔应 面色好青", "major", "casualty"),
        ("楼下两帮人拎住刀喺度劈 18栋门口 已经有人倒低咗 快啲报警", "major", "violence"),
        ("22栋五楼独居嘅梁伯成个礼拜冇见过佢落楼 拍门冇人应 打电话都冇人听", "major", "casualty"),
        ("阿拉隔壁1602屋里厢一股怪味道 像煤气灶没关牢 冲得来 我在走廊里头都有点晕", "major", "gas"),
        ("五单元楼道里一股臭鸡蛋味儿 贼冲 是不是谁家阀门没关严啊", "major", "gas"),
        ("我家伢儿到现在还没到家，电话手表打不通，学校说早放学了", "major", "missing"),
        ("王老師，我真的熬不下去了，藥我都攢好了，不想再拖累兒子了", "major", "self_harm"),
        ("我实在冇得意思了 债还不起 今天晚上就到江滩那边跳下克", "major", "self_harm"),
        ("15栋的王娭毑好几天冇看到她下楼买菜了 敲门也冇人应 电话打了也冇人接", "major", "casualty"),
        ("拍谢打扰 阮厝8栋4楼有一间味道真重 闻起来像瓦斯 阿婆讲头晕想吐", "major", "gas"),
    ],
)
def test_regional_words(text: str, kind: str, category: str) -> None:
    r = parse(text, role="resident")
    assert (r.kind, r.category) == (kind, category)


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        # a supervisor writing 零报告 speaks of the rule or the tally, not of a patrol
        ("通知：请各网格每日17:00前报送巡查情况，无情况零报告，不得漏报", "supervisor", "other"),
        ("今日汇总：已报261个网格，其中零报告230个，无重大情况", "supervisor", "other"),
        ("零报告", "leader", "zero_report"),
        # a safety tip headed as such; news of another estate told as a lesson
        ("温馨提示：冬季取暖注意防火，发现燃气泄漏请立即拨打119", "supervisor", "other"),
        ("通报：外区某小区一住户电动车在楼道充电引发火灾，请各网格举一反三", "supervisor", "other"),
    ],
)
def test_staff_notices_and_tallies(text: str, role: str, kind: str) -> None:
    assert parse(text, role=role).kind == kind


@pytest.mark.parametrize(
    ("text", "kind", "category"),
    [
        # a space between nearly every word separates nothing (older writers, some input methods)
        ("我家老头子 刚才 上厕所 摔倒 了 头上 都是 血 起 不来 6栋 502 快 来人", "major", "casualty"),
        ("活着 没 意思 拖累 儿女 药 我 都 攒 好了 今晚 吃了 算了", "major", "self_harm"),
        ("楼上 那家 天天 把 电瓶车 推到 家里 充电 万一 着火 怎么办 17号楼", "basic", "safety"),
        # spaces for commas still end a clause: the negation does not reach past them
        ("3栋楼道没有灯 晚上有人摔倒了 头破了在流血", "major", "casualty"),
    ],
)
def test_word_spaced_writing(text: str, kind: str, category: str) -> None:
    r = parse(text, role="resident")
    assert (r.kind, r.category) == (kind, category)


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        # a hiss, a smell and a silence: weak signs of three kinds, together a major
        ("8号楼102屋里嘶嘶响，门缝里一股臭鸡蛋味，敲门没人应", "resident", "major"),
        ("隔壁刚才吵得砸东西，后来咚的一声很重，现在大人没动静了就小孩在哭，敲门没人开", "resident", "major"),
        # one weak sign of each of two kinds is still not enough
        ("暴雨过后楼道里一股臭鸡蛋味，谁家的垃圾没扔", "resident", "basic"),
        # a checklist's answer right after the item: checked and not there
        ("4号楼巡查表\n消防通道　畅通\n燃气异味　无\n可疑人员　无", "leader", "zero_report"),
        ("4号楼巡查：燃气异味：无，可疑人员：无", "leader", "zero_report"),
        # not a whole answer: the leak is there, nobody was hurt
        ("3栋燃气泄漏，无人受伤", "leader", "major"),
        # someone's own words as posted are the matter, not a citation to leave out
        ("一个女生刚发了条朋友圈，写的“再见了大家，今晚楼顶的风应该挺大的”", "resident", "major"),
        # the words on a sign are a citation (广告写着'…')
        ("楼下广告写着'一氧化碳中毒怎么办'，挺吓人的", "resident", "other"),
    ],
)
def test_signs_added_up_answered_and_quoted(text: str, role: str, kind: str) -> None:
    assert parse(text, role=role).kind == kind


_MONKEYS = "后门那边的猴子越来越多了，专抢老人手里的菜，这个归谁管？"


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        # a shop's post needs one advert cue less: 上门检测 and 八折 are two, the merchant the third
        ("【燃气安全】专业上门检测燃气泄漏、更换燃气软管，本小区业主一律八折！", "merchant", "other"),
        # someone gone after a lecture is gone: the lecture is no drill of it
        ("我爸有点老年痴呆，上午跟人去听健康讲座，现在都下午4点了还没回来", "resident", "major"),
        # unless the going is itself staged
        ("通知：本周六开展防走失应急演练，届时会模拟老人走失搜寻，请大家不要惊慌", "supervisor", "other"),
        # what befell someone in the middle of a training is real; the staged collapse of a drill is not
        ("街道活动室这边，培训到一半有个志愿者突然晕倒了，叫不醒，已经打120了", "member", "major"),
        ("消防演练中模拟一名老人突然晕倒，请志愿者按流程施救", "supervisor", "other"),
        ("今天急救培训时，老师讲了有人突然晕倒叫不醒该怎么做", "member", "other"),
        # an episode of a drama is news from elsewhere; 马上集合 (gather at once) is not an episode
        ("重温狂飙看到高启强那集，满地是血，我媳妇吓得捂着眼不敢看", "resident", "other"),
        ("着火了！3栋的大家马上集合到楼下空地", "resident", "major"),
        # hearsay from another place is news; next door, or met on the way to work, is here
        ("听说城南那边昨天有小孩在河里溺水了，放暑假了看好自家孩子", "resident", "other"),
        ("听说隔壁楼有人晕倒了，叫不醒", "resident", "major"),
        ("今天上班的时候遇到个老人在小区门口晕倒了，叫不醒", "resident", "major"),
        # a quoted greeting adds nothing: the reply is read alone, as without the quote
        (
            "「王阿姨：大家早上好」\n- - - - - - - - - - - - - - -\n" + _MONKEYS,
            "resident",
            parse(_MONKEYS, role="resident").kind,
        ),
    ],
)
def test_adverts_lectures_and_greetings(text: str, role: str, kind: str) -> None:
    assert parse(text, role=role).kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # a named show or film is something watched: its title is taken out, its marks stay
        ("《急诊科医生》重温第三遍了，每次看到抢救那段都哭", "other"),
        ("昨晚陪孩子看了《亲爱的》，拐卖儿童那段看得我直哭", "other"),
        # ... unless the writer says it is here and now
        ("刚看完《消防员》，结果咱们楼真着火了，3楼窗户冒黑烟", "major"),
    ],
)
def test_a_title_marks_the_message_as_about_a_work(text: str, kind: str) -> None:
    assert parse(text, role="resident").kind == kind


def test_a_word_in_scare_quotes_is_not_meant_as_said() -> None:
    # a figure marked by its quotes: homework 'gone missing', a cat that 'jumped'
    assert parse("我家娃作业又“失踪”了，书包翻遍了都找不到，救命😭", role="resident").kind != "major"
    assert parse("昨天那只从12楼“跳楼”的猫，今天又在楼下晒太阳了", role="resident").kind != "major"
    # quoted after a verb of saying, they are what someone said
    assert parse("楼下有人喊“救命”，一直在喊", role="resident").kind == "major"
    assert parse("他刚才说“不想活了”，电话就关机了", role="resident").kind == "major"


def test_items_answered_no_in_a_table_or_after_the_item() -> None:
    table = "| 项目 | 情况 |\n| 火灾隐患 | 无 |\n| 打架斗殴 | 无 |\n| 房屋安全 | 正常 |\n巡查人：刘洋"
    assert parse(table, role="leader").kind != "major"
    assert parse("今儿个溜达了一圈，煤气味儿没闻着，零报告哈", role="leader").kind == "zero_report"
    # an answer other than no leaves the item reported
    assert parse("| 项目 | 情况 |\n| 打架斗殴 | 3栋门口有人持刀 |", role="leader").kind == "major"
