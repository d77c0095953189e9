"""Phrasings beyond the corpus: staff notices of drills, people trapped in a lift, falling objects."""

from __future__ import annotations

import pytest

from handlers.parsing import parse


@pytest.mark.parametrize(
    ("text", "role", "kind", "category"),
    [
        ("本周六上午9点小区组织消防演练，请大家准时参加", "leader", "other", None),
        ("明天下午社区有防诈骗讲座，请各位居民准时参加", "member", "other", None),
        ("3单元的电梯困人了！里面有老人和小孩", "resident", "major", "casualty"),
        ("快来人，电梯里被困了两个人，按警铃没人应", "resident", "major", "casualty"),
        ("外墙瓷砖掉下来了，砸坏了一辆车，幸好没人", "resident", "basic", "safety"),
        ("楼上有人高空抛物，差点砸到小孩", "resident", "basic", "safety"),
        # a second author's phrasings (written without looking at the corpus)
        ("重大情况：无；基本情况：无", "leader", "zero_report", None),
        ("無重大情況，無基本情況", "leader", "zero_report", None),
        ("今天排查了燃气管道，未发现漏气", "leader", "zero_report", None),
        ("今日正常，无事", "leader", "zero_report", None),
        ("没什么事，就是问问明天还停不停水", "resident", "basic", "livelihood"),
        ("有没有人知道社区医院周末开不开门", "resident", "basic", "livelihood"),
        ("燃气公司说明天停气检修，是真的吗？", "resident", "basic", "livelihood"),
        ("谢谢网格员，灯已经修好了👍", "resident", "other", None),
        ("感謝網格長幫忙協調，問題解決了", "resident", "other", None),
        ("没有人受伤，就是车被刮了，对方跑了", "resident", "basic", "dispute"),
        ("小区停车太乱了，每天都被堵在里面出不去", "resident", "basic", "dispute"),
        ("充电桩那边的电线冒火花了", "resident", "major", "fire"),
        ("有没有人闻到一股烧焦的味道？好像是从4栋传出来的", "resident", "major", "fire"),
        ("家里燃气表一直在走字，但是没有开火，是不是漏了", "resident", "major", "gas"),
        ("快来人啊，有人掉进小区的池塘里了", "resident", "major", "casualty"),
        ("有只流浪狗在小区里咬人了，一个小孩腿被咬出血", "resident", "major", "casualty"),
        ("电影院着火了，快跑", "resident", "major", "fire"),  # a cinema is no film
        ("小区门口那家游戏厅有人打架", "resident", "major", "violence"),  # nor an arcade a game
        ("学校门口有两个男的打起来了", "resident", "major", "violence"),
        ("4栋2单元1101的阿姨好几天没出门了，敲门也没人应", "resident", "major", "casualty"),
        ("一个老太太坐在小区门口一直哭，问她家住哪也说不清楚", "resident", "major", "missing"),
    ],
)
def test_phrasing(text: str, role: str, kind: str, category: str | None) -> None:
    result = parse(text, role=role)
    assert (result.kind, result.category) == (kind, category)


@pytest.mark.parametrize(
    "text",
    [
        "不用担心，刚才那个冒烟的是邻居家在熏腊肉",  # a harmless cause given
        "有人说东西掉进井里了",  # a thing, not a person
        "闻到烧焦味，原来是我锅烧糊了",
        "敲门没人应，可能出去了",  # one of the two signs only
        "新来的租户家住哪不知道",  # the speaker does not know, nobody is lost
        "电视里说今晚有台风，大家把阳台上的花盆收一收",  # a forecast
        "我们家孩子今天在学校跟同学打架了，老师让家长去一趟",  # a schoolyard fight elsewhere
        "去年那次火灾之后，楼道里的线路换了吗？",  # a past fire
        "5楼有户人家的狗被车撞了，好可怜",  # an animal hurt
        "这部电影里的爆炸场面好震撼",  # fiction
        "我在打人口普查的电话",  # 人口, not 打人
        "我被朋友拉去打了一下午牌",  # cards, not a beating
        "这股票再跌我就要跳楼了哈哈",  # said laughing
        "接到群众举报，4号楼有人员聚集打麻将赌博，请网格长核实",  # gamblers are no crowd event
        "三栋一单元门口的台阶塌了一块，老人上下不方便",  # a repair job
        "电焊冒火花，大家离远点",  # welding
        "我家煤气灶打不着火了，是不是没气了",  # a stove out of gas, not a person
        "网上传的咱们小区着火是谣言，大家别信",  # a rumour put right
        "刚才那是打雷还是爆炸？吓我一跳",  # unsure what it was
        "东西倒地上了，谁来扶一下",  # a thing fell over
        "孩子的球掉到井里了",  # the child's ball, not the child
        "他脸色发白，好像吓着了",  # one weak sign
        "我家孩子看动画片学人家跳楼，被我狠狠说了一顿",  # imitating a cartoon
        "这个夏天热得人都要中暑晕倒了",  # exaggeration
        "我爸接到电话说我被绑架了要赎金，吓死了，幸好没转钱",  # a scam that failed
        "听说外省有个楼塌了，咱们这楼质量怎么样",  # news from elsewhere
        "3栋楼道一块电瓶冒了点烟，已拿到室外，未起火，无人员受伤",  # nothing caught fire
        "我家孩子玩游戏又被人打死了，气得直哭",  # a video game
        "这是今天最后一条通知",  # not a farewell post
        "谁能帮忙找人修一下水管",  # someone to hire, not someone lost
        "下水道堵了，污水都漫到路上了，臭死了",  # sewage, not a flood
        "衣服挂在外面晒",  # laundry, not a person hanging outside
        "我给妈妈打一个电话",  # a call, not a beating
        "他躺着玩手机一下午没动过",  # lying still by choice
        "家里燃气表不走字了，是不是坏了",  # a meter that stopped: no gas escaping
        "楼顶那个太阳能热水器的管子爆了，水一直往下流",  # plumbing, not an explosion
    ],
)
def test_near_misses_stay_below_major(text: str) -> None:
    assert parse(text, role="resident").kind != "major"


@pytest.mark.parametrize(
    ("text", "role", "kind"),
    [
        ("今天是重阳节，祝各位老人节日快乐", "resident", "other"),  # a greeting
        ("「王姐：5栋有人打架」\n- - - - - - - - - - - - - - -\n早就散了，没事", "resident", "other"),
        ("早就散了，没事", "leader", "zero_report"),  # staff saying "nothing" do report nothing
    ],
)
def test_greetings_and_residents_saying_nothing(text: str, role: str, kind: str) -> None:
    assert parse(text, role=role).kind == kind


def test_no_one_trapped_is_not_major() -> None:
    assert parse("电梯今天检修，没有困人的情况", role="leader").kind != "major"


@pytest.mark.parametrize(
    ("text", "major"),
    [
        # one weak sign of an emergency is not enough on its own ...
        ("老人心脏不舒服", False),
        ("紧急通知：明天上午停水", False),  # a plea word with no sign of an emergency
        # ... a plea for help now lifts it over the threshold
        ("老人心脏不舒服，快来人", True),
        ("紧急！楼道里有人摔倒了", True),
        ("急急急，谁有120的电话，我爸喘不上来", True),
    ],
)
def test_a_plea_for_help_lifts_a_weak_sign(text: str, major: bool) -> None:
    assert (parse(text, role="resident").kind == "major") is major


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("樓下有人被捅了，流了好多血，快叫救護車", "violence"),  # the injury the violence did
        ("隔壁两口子打起来了，女的头破血流", "violence"),
    ],
)
def test_violence_outranks_the_injury_it_caused(text: str, category: str) -> None:
    assert parse(text, role="resident").category == category


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("各位居民，明天上午8点到12点停水，请提前储水", "other"),
        ("大家注意了，最近天气干燥，楼道里不要堆放易燃物品", "other"),
        # a finding of their own, or work done, keeps it a report
        ("巡查发现3栋有人在楼道充电，已告知不要在楼道充电", "basic"),
        ("3栋有人在楼道充电，已劝离，请大家不要在楼道充电", "basic"),
    ],
)
def test_staff_notices_to_residents(text: str, kind: str) -> None:
    assert parse(text, role="leader").kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("谁家有多余的纸箱子，搬家用", "other"),
        ("哪位邻居会修电脑？有偿", "other"),
        ("有没有一起跳广场舞的姐妹", "other"),
        ("刚看了下，电梯已经修好了，谢谢物业", "other"),  # thanks at the end, work done
        # a real problem among the neighbourly words still counts
        ("谁家有多余的纸箱子？楼道里堆满了杂物，消防通道都堵了", "basic"),
    ],
)
def test_neighbours_among_themselves(text: str, kind: str) -> None:
    assert parse(text, role="resident").kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("看了个新闻，一个老人走失三天被找到了，家人哭成泪人", "other"),  # news of elsewhere
        ("网上说咱们小区要停水三天，真的假的", "basic"),  # hearsay about our own place
        ("朋友圈看到说我们楼下的井盖没了", "basic"),
    ],
)
def test_news_of_elsewhere_is_chat_but_not_news_of_here(text: str, kind: str) -> None:
    assert parse(text, role="resident").kind == kind
