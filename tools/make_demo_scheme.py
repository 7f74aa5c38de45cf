#!/usr/bin/env python3
"""Writes data/demo-scheme/: a small hand-written CHS-DRG-style scheme in drgdip's scheme
format (docs/scheme-format.md). Real ICD-10 / ICD-9-CM-3 医保版 codes, a few MDCs, and
every op and engine semantic of the format at least once, so that the demo exercises the
whole engine. Run from the repository root: python3 tools/make_demo_scheme.py"""
import csv, json, os

OUT = "data/demo-scheme"
DX = {
    "I63.900": "脑梗死", "I63.300": "大脑动脉血栓形成引起的脑梗死", "G45.900": "短暂性大脑缺血性发作",
    "G45.000": "椎基底动脉综合征", "S06.000": "脑震荡",
    "J18.900": "肺炎", "J18.000": "支气管肺炎", "J15.900": "细菌性肺炎", "J44.100": "慢性阻塞性肺病伴有急性加重",
    "J44.900": "慢性阻塞性肺病", "J44.000": "慢性阻塞性肺病伴有急性下呼吸道感染", "J96.000": "急性呼吸衰竭",
    "I20.000": "不稳定型心绞痛", "I25.103": "冠状动脉粥样硬化性心脏病", "I50.900": "心力衰竭",
    "R57.000": "心源性休克", "I10.x00": "特发性（原发性）高血压",
    "K35.200": "急性阑尾炎伴有弥漫性腹膜炎", "K35.300": "急性阑尾炎伴局限性腹膜炎", "K40.900": "单侧或未特指的腹股沟疝，不伴有梗阻或坏疽",
    "K40.901": "腹股沟斜疝", "K92.208": "上消化道出血", "K92.201": "胃出血", "K29.700": "胃炎",
    "O80.000": "头位顺产", "O82.000": "经选择性剖宫产术的分娩", "O34.201": "妊娠合并子宫瘢痕", "O70.000": "分娩时Ⅰ度会阴裂伤",
    "P07.300": "早产婴儿，其他的", "P07.200": "极度不成熟", "P07.100": "其他低出生体重（1000-2499克）",
    "P22.000": "新生儿呼吸窘迫综合征", "P59.900": "新生儿黄疸",
    "S27.000": "创伤性气胸", "S22.400": "肋骨多处骨折", "S32.000": "腰椎骨折",
    "E11.900": "2型糖尿病", "A41.900": "脓毒症", "N17.900": "急性肾衰竭", "E87.100": "低渗透性和低钠血症", "D64.900": "贫血",
}
PX = {
    "88.4101": "脑血管造影", "88.4103": "颈动脉造影术", "88.4104": "椎动脉造影",
    "32.2001": "胸腔镜下肺楔形切除术", "32.2002": "胸腔镜下肺大疱切除术", "32.2003": "胸腔镜下肺病损切除术",
    "36.0601": "冠状动脉药物涂层支架置入术", "36.0602": "冠状动脉裸支架置入术",
    "47.0100": "腹腔镜下阑尾切除术", "47.0901": "阑尾切除术",
    "53.0001": "单侧腹股沟疝修补术", "53.0002": "腹腔镜下单侧腹股沟疝修补术", "53.0201": "单侧腹股沟斜疝修补术",
    "54.2100": "腹腔镜检查", "44.4301": "内镜下胃氩气刀止血术", "45.1300": "小肠其他内镜检查",
    "74.1x01": "剖宫产术，子宫下段横切口", "73.6x00": "外阴切开术", "75.6900": "其他近期产科裂伤修补术",
    "96.7101": "呼吸机治疗[小于96小时]", "96.7201": "呼吸机治疗[大于等于96小时]", "31.1x00x005": "暂时性气管切开术",
    "51.2300": "腹腔镜下胆囊切除术",
}
OR = ["88.4101", "32.2001", "32.2002", "32.2003", "36.0601", "36.0602", "47.0100", "47.0901", "53.0001",
      "53.0002", "53.0201", "54.2100", "74.1x01", "73.6x00", "75.6900", "96.7201", "51.2300", "31.1x00x005"]
MCC = [("J96.000", "10"), ("R57.000", "20"), ("I50.900", "20"), ("A41.900", "30"), ("N17.900", "40")]
CC = [("J18.900", "10"), ("I25.103", "20"), ("E11.900", "50"), ("I10.x00", "60"), ("E87.100", "70"), ("D64.900", "80")]
PDX_TABLE = [("J18.900", "10"), ("J18.000", "10"), ("J44.100", "10"), ("J96.000", "10"), ("I20.000", "20"),
             ("I25.103", "20"), ("I50.900", "20"), ("R57.000", "20"), ("E11.900", "50")]

lists = {}
def L(name, codes, **extra):
    lists[name] = {"codes": codes, **extra}
    return name

def op(name, **kw):
    return {"op": name, **kw}
T, F = op("true"), op("false")
MCC_ = op("has_mcc")
CC_ = op("or", args=[op("has_mcc"), op("has_cc")])

mdcs, adrgs, drgs = [], [], []
def mdc(code, entry, entries, qy=None, label=""):
    mdcs.append({"mdc": code, "eval_order": len(mdcs) + 1, "entry_rule": entry,
                 "qy_check": qy or {"enabled": False, "rule": op("and", args=[F, op("principal_proc_in", list="OR_PROCEDURES")]),
                                    "result": code[-1] + "QY", "after_adrg_count": len(entries)},
                 "adrgs": [e[0] for e in entries],
                 "adrgs_after_qy_check": [e[0] for e in entries[(qy or {}).get("after_adrg_count", len(entries)):]],
                 "source_label": label or f"符合{code}入组条件"})
    for i, (entry_id, rule, tests, fallback, name) in enumerate(entries):
        adrgs.append({"adrg": entry_id, "adrg_code": entry_id[:3], "mdc": code, "order_in_mdc": i + 1,
                      "after_qy_check": entry_id in mdcs[-1]["adrgs_after_qy_check"], "rule": rule,
                      "drgs": [t[0] for t in tests], "fallback_result": fallback,
                      "fallback_reachable": not any(t[1] == T for t in tests),
                      "source_label": f"符合{entry_id}入组条件"})
        for k, (drg, cond, dname) in enumerate(tests):
            drgs.append({"drg": drg, "name": dname, "adrg": drg[:3], "mdc": code, "severity_digit": drg[3],
                         "order_in_adrg": k + 1, "split_kind": "custom", "condition": cond,
                         "adrg_entries": [entry_id], "statically_reachable": True})

def pdx(code): return op("principal_dx_in", list=L(f"{code}:pdx", MDC_PDX[code]))
MDC_PDX = {
    "MDCZ": ["S06.000", "S27.000", "S22.400", "S32.000"],
    "MDCB": ["I63.900", "I63.300", "G45.900", "G45.000", "S06.000"],
    "MDCE": ["J18.900", "J18.000", "J15.900", "J44.100", "J44.900", "J44.000", "J96.000"],
    "MDCF": ["I20.000", "I25.103", "I50.900", "R57.000", "I10.x00"],
    "MDCG": ["K35.200", "K35.300", "K40.900", "K40.901", "K92.208", "K92.201", "K29.700"],
    "MDCO": ["O80.000", "O82.000", "O34.201", "O70.000"],
    "MDCP": ["P07.300", "P07.200", "P07.100", "P22.000", "P59.900"],
}
lists["MDCZ:pdx"] = {"codes": MDC_PDX["MDCZ"], "trauma_site": ["头颈部创伤", "胸部创伤", "胸部创伤", "躯干、脊柱创伤"]}
newborn = [op("age_days_present"), op("age_days_le", value=28)]
sev = lambda a, n: [(a + "1", MCC_, n + "，伴严重并发症或合并症"), (a + "3", CC_, n + "，伴并发症或合并症"), (a + "5", T, n + "，不伴并发症或合并症")]

mdc("MDCA", op("principal_proc_in", list="OR_PROCEDURES"), [
    ("AH1", op("and", args=[op("any_proc_in", list=L("AH1:proc", ["96.7201"])), op("any_proc_in", list=L("AH1:proc_b", ["31.1x00x005"]))]),
     [("AH11", MCC_, "气管切开伴呼吸机支持≥96小时，伴严重并发症或合并症")], "AH1", "气管切开伴呼吸机支持≥96小时"),
])
mdc("MDCP", op("and", args=[op("principal_dx_in", list=L("MDCP:pdx", MDC_PDX["MDCP"])), op("age_years_eq", value=0)]), [
    ("PS1", op("and", args=[op("any_dx_in", list=L("PS1:dx", ["P07.200", "P07.300", "P07.100"])), op("weight_present"), op("weight_lt", value=1500)] + newborn),
     sev("PS1", "新生儿，出生体重<1500克"), "", ""),
    ("PS2", op("and", args=[op("any_dx_in", list=L("PS2:dx", ["P07.200", "P07.300", "P07.100"])), op("weight_present"), op("weight_ge", value=1500), op("weight_lt", value=2500)] + newborn),
     [("PS21", CC_, "新生儿，出生体重1500-2499克，伴并发症或合并症"), ("PS25", T, "新生儿，出生体重1500-2499克")], "", ""),
    ("PR1", op("and", args=[op("principal_dx_in", list=L("PR1:dx", ["P22.000"]))] + newborn), sev("PR1", "新生儿呼吸窘迫综合征"), "", ""),
    ("PU1", op("principal_dx_in", list=L("PU1:dx", ["P59.900", "P07.100", "P07.300"])),
     [("PU11", MCC_, "足月儿及其他新生儿疾患，伴严重并发症或合并症"), ("PU15", T, "足月儿及其他新生儿疾患")], "", ""),
])
mdc("MDCZ", op("and", args=[op("principal_dx_in", list="MDCZ:pdx"), op("trauma_sites_min", table="MDCZ:pdx", min=2)]), [
    ("ZZ1", T, sev("ZZ1", "多发性重要创伤无手术"), "", ""),
])
mdc("MDCB", pdx("MDCB"), [
    ("BM1", op("principal_proc_in", list=L("BM1:proc", ["88.4101", "88.4103", "88.4104"])),
     [("BM11", MCC_, "脑血管介入检查术，伴严重并发症或合并症"), ("BM15", T, "脑血管介入检查术")], "", ""),
    ("BR2", op("principal_dx_in", list=L("BR2:dx", ["I63.900", "I63.300", "G45.900", "G45.000"])),
     [("BR21", MCC_, "脑缺血性疾患，伴严重并发症或合并症"),
      ("BR22", op("secondary_dx_in", list=L("BR22:inline1", ["E11.900"])), "脑缺血性疾患，伴糖尿病"),
      ("BR23", CC_, "脑缺血性疾患，伴并发症或合并症"),
      ("BR24", op("age_years_gt", value=79), "脑缺血性疾患，高龄"),
      ("BR25", T, "脑缺血性疾患，不伴并发症或合并症")], "", ""),
])
mdc("MDCE", pdx("MDCE"), [
    ("EB1", op("principal_proc_in", list=L("EB1:proc", ["32.2001", "32.2002", "32.2003"])),
     [("EB11", op("proc_count_ge", value=2), "肺大手术，多项手术"), ("EB19", T, "肺大手术")], "", ""),
    ("ER3", op("principal_dx_in", list=L("ER3:dx", ["J96.000"])),
     [("ER30", op("discharge_way_in", values=["5"]), "呼吸衰竭，死亡"), ("ER36", op("los_gt", value=14), "呼吸衰竭，住院>14天"),
      ("ER39", T, "呼吸衰竭")], "", ""),
    ("ES3", op("principal_dx_in", list=L("ES3:dx", ["J18.900", "J18.000", "J15.900"])),
     [("ES31", MCC_, "呼吸系统感染/炎症，伴严重并发症或合并症"), ("ES33", CC_, "呼吸系统感染/炎症，伴并发症或合并症"),
      ("ES34", op("age_years_le", value=17), "呼吸系统感染/炎症，儿童"), ("ES35", T, "呼吸系统感染/炎症，不伴并发症或合并症")], "", ""),
    ("ET2", op("principal_dx_in", list=L("ET2:dx", ["J44.100", "J44.900", "J44.000"])),
     [("ET21", MCC_, "慢性气道阻塞病，伴严重并发症或合并症"), ("ET23", CC_, "慢性气道阻塞病，伴并发症或合并症"),
      ("ET24", op("age_years_lt", value=18), "慢性气道阻塞病，儿童"), ("ET25", T, "慢性气道阻塞病，不伴并发症或合并症")], "", ""),
])
mdc("MDCF", pdx("MDCF"), [
    ("FM1", op("principal_proc_in", list=L("FM1:proc", ["36.0601", "36.0602"])),
     [("FM11", op("secondary_proc_in", list="FM1:proc"), "经皮冠状动脉支架植入，多支"), ("FM19", T, "经皮冠状动脉支架植入")], "", ""),
    ("FR2", op("principal_dx_in", list=L("FR2:dx", ["I50.900", "R57.000"])),
     [("FR20", op("dept_in", values=["ICU", "CCU"]), "心力衰竭、休克，监护病房"), ("FR21", MCC_, "心力衰竭、休克，伴严重并发症或合并症"),
      ("FR25", T, "心力衰竭、休克")], "", ""),
    ("FR3", op("principal_dx_in", list=L("FR3:dx", ["I20.000"])), sev("FR3", "心绞痛"), "", ""),
    ("FR4", op("principal_dx_in", list=L("FR4:dx", ["I25.103"])),
     [("FR41", MCC_, "冠状动脉粥样硬化，伴严重并发症或合并症"), ("FR42", op("dx_count_ge", value=5), "冠状动脉粥样硬化，多病共存"),
      ("FR43", CC_, "冠状动脉粥样硬化，伴并发症或合并症"), ("FR47", op("los_lt", value=3), "冠状动脉粥样硬化，短期住院"),
      ("FR45", T, "冠状动脉粥样硬化，不伴并发症或合并症")], "", ""),
    ("FT3", op("principal_dx_in", list=L("FT3:dx", ["I10.x00"])),
     [("FT31", op("age_years_ge", value=65), "高血压，老年"), ("FT35", T, "高血压")], "", ""),
])
mdc("MDCG", pdx("MDCG"), [
    ("GD1", op("and", args=[op("principal_dx_in", list=L("GD1:dx", ["K35.200", "K35.300"])), op("principal_proc_in", list=L("GD1:proc", ["47.0100", "47.0901"]))]),
     [("GD13", CC_, "伴穿孔、化脓、坏疽等阑尾切除术，伴并发症或合并症"), ("GD15", op("los_le", value=30), "伴穿孔、化脓、坏疽等阑尾切除术")], "", ""),
    ("GE1", op("or", args=[op("proc_group_present", list=L("GE1:proc", ["53.0001", "53.0002", "53.0201", "54.2100", "53.0201"], proc_group=["1", "1", "1", "2", "3"]), group="1"),
                           op("and", args=[op("proc_group_present", list="GE1:proc", group="2"), op("proc_group_present", list="GE1:proc", group="3")])]),
     [("GE13", CC_, "腹股沟及腹疝手术，伴并发症或合并症"), ("GE15", T, "腹股沟及腹疝手术")], "", ""),
    ("GS1", op("principal_dx_in", list=L("GS1:dx", ["K92.208", "K92.201"])),
     [("GS11", MCC_, "胃肠出血，伴严重并发症或合并症"), ("GS12", op("has_procedure"), "胃肠出血，内镜治疗"), ("GS15", T, "胃肠出血")], "", ""),
    ("GW1", op("principal_dx_in", list=L("GW1:dx", ["K29.700"])),
     [("GW13", CC_, "食管炎、胃肠炎，伴并发症或合并症"), ("GW15", T, "食管炎、胃肠炎")], "", ""),
], qy={"enabled": True, "rule": op("principal_proc_in", list="OR_PROCEDURES"), "result": "GQY", "after_adrg_count": 2})
mdc("MDCO", op("and", args=[pdx("MDCO"), op("sex_eq", value=2)]), [
    ("OB1", op("principal_proc_in", list=L("OB1:proc", ["74.1x01"])), [("OB19", T, "剖宫产术")], "", ""),
    ("OC1", op("principal_proc_in", list=L("OC1:proc", ["73.6x00", "75.6900"])), [("OC19", T, "阴道分娩伴手术操作")], "", ""),
    ("OF1", op("and", args=[op("principal_dx_in", list=L("OF1:dx", ["O80.000", "O70.000"])), op("not", arg=op("any_proc_in", list="OR_PROCEDURES"))]),
     [("OF18", op("los_eq", value=0), "阴道分娩，当日出院"), ("OF19", T, "阴道分娩")], "", ""),
])
scheme = {
    "scheme": "drgdip_demo", "version": "2025.1",
    "source": {"note": "hand-written demo scheme of drgdip; real codes, simplified rules; not for payment"},
    "dispatch": {"mdc_order": [m["mdc"] for m in mdcs], "no_match_result": "0000",
                 "retry_on_no_match": {"kind": "each_secondary_procedure_alone", "when_result": "0000", "min_procedures": 2}},
    "validation": {"variant": "standard", "description": "sex 1/2; age; age_days when age is 0; birth weight when age_days <= 28"},
    "mdcs": mdcs, "adrgs": adrgs, "drgs": drgs, "lists": dict(sorted(lists.items())),
}
os.makedirs(OUT, exist_ok=True)
with open(f"{OUT}/scheme.json", "w", encoding="utf-8") as f:
    json.dump(scheme, f, ensure_ascii=False, indent=1)
    f.write("\n")
def write(name, header, rows):
    with open(f"{OUT}/{name}", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
write("mcc.csv", ["code", "exclusion_table"], MCC)
write("cc.csv", ["code", "exclusion_table"], CC)
write("pdx_exclusion_table.csv", ["principal_dx", "exclusion_table"], PDX_TABLE)
write("or_procedures.csv", ["code", "name", "alt_names"], [(c, PX[c], "") for c in OR])
write("dx_names.csv", ["code", "name"], sorted(DX.items()))
write("proc_names.csv", ["code", "name"], sorted(PX.items()))
# Clinical (国临版) spellings that differ from 医保版, to show the optional code maps.
write("dx_code_map.csv", ["from_code", "to_code"], [("I63.901", "I63.900"), ("J18.901", "J18.900")])
write("proc_code_map.csv", ["from_code", "to_code"], [("47.0101", "47.0100")])
print(f"wrote {OUT}: {len(mdcs)} MDCs, {len(adrgs)} ADRG entries, {len(drgs)} DRGs, {len(lists)} lists")
