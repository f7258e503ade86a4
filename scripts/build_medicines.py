"""Rebuild src/lowdose/knowledge/data/medicines.json.

Inputs: the CDC opioid value sets (FHIR R4 ValueSets with expansions, folder given as the
argument; default ../shared/data/cdc-opioid-valuesets next to the repository) and the curated
src/lowdose/knowledge/data/medicine_additions.toml. The output is deterministic (sorted keys,
no timestamps), so a test can rebuild it and compare with the shipped file.

    .venv/bin/python scripts/build_medicines.py [VALUESET_DIR] [--output PATH]

The build fails, naming the culprit, when a value set brings an ingredient, dose form or
brand combination that the additions do not explain.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lowdose.knowledge.medicines import class_rules_from, classify, ingredients_from

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "src" / "lowdose" / "knowledge" / "data"
DEFAULT_VALUESETS = REPO.parent / "shared" / "data" / "cdc-opioid-valuesets"
ADDITIONS = DATA / "medicine_additions.toml"
OUTPUT = DATA / "medicines.json"

VALUESET_SOURCES = ["cdc-opioid-valuesets", "rxnorm"]

_PACK = re.compile(r"^\{\d+ \((?P<inner>.*)\) \} Pack(?: \[(?P<brand>[^\]]+)\])?$")
_BRANDED = re.compile(r"^(?P<body>.*?)(?: \[(?P<brand>[^\]]+)\])?$")
# Release and package words before the first ingredient: "Abuse-Deterrent 12 HR", "0.5 ML".
_PREFIX = re.compile(
    r"^(?:(?:Abuse-Deterrent|Matrix Delivery) )*(?:\d+(?:\.\d+)? (?:HR|ML|ACTUAT) )*"
)
_PART = re.compile(
    r"^(?P<name>[a-z][a-z0-9 \-]*?) (?P<value>\d+(?:\.\d+)?) "
    r"(?P<unit>MG|MG/ML|MG/HR|MG/ACTUAT|MCG)(?: (?P<form>.+))?$"
)
# Brand spellings that carry a reformulation date or a pack strength: "Endodan Reformulated
# May 2009", "Subsys 1200 MCG".
_BRAND_SUFFIX = re.compile(r" (?:Reformulated .*|\d+ MCG)$")
_UNITS = {"MG": "mg", "MG/ML": "mg/ml", "MG/HR": "mg/h", "MG/ACTUAT": "mg/actuation",
          "MCG": "mcg"}


class BuildError(Exception):
    pass


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_display(display: str, salt_words: frozenset[str]) -> dict[str, Any]:
    """`acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet [Norco]` →
    ingredients with strengths, the RxNorm dose form and the brand."""
    brand = None
    pack = _PACK.match(display)
    if pack:
        inner = _BRANDED.match(pack.group("inner"))
        assert inner is not None
        display, brand = inner.group("body"), inner.group("brand") or pack.group("brand")
    else:
        branded = _BRANDED.match(display)
        assert branded is not None
        display, brand = branded.group("body"), branded.group("brand")
    body = _PREFIX.sub("", display)
    strengths, dose_form = [], None
    for part in body.split(" / "):
        m = _PART.match(part)
        if m is None:
            raise BuildError(f"cannot read ingredient {part!r} in {display!r}")
        words = [w for w in m.group("name").split() if w not in salt_words]
        strengths.append({"ingredient": " ".join(words), "value": _number(m.group("value")),
                          "unit": _UNITS[m.group("unit")]})
        dose_form = m.group("form") or dose_form
    if dose_form is None:
        raise BuildError(f"no dose form in {display!r}")
    if brand is not None:
        brand = _BRAND_SUFFIX.sub("", brand)
    return {"strengths": strengths, "dose_form": dose_form, "brand": brand}


def read_valuesets(folder: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Value-set descriptions and every code once, with the value sets that list it."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise BuildError(f"no value sets (*.json) in {folder}")
    about, codes = [], {}
    for path in files:
        valueset = json.loads(path.read_text("utf-8"))
        contains = valueset["expansion"]["contains"]
        about.append({"id": valueset["id"], "url": valueset["url"],
                      "title": valueset.get("title", valueset["name"]),
                      "date": valueset.get("date"), "codes": len(contains)})
        for entry in contains:
            row = codes.setdefault(entry["code"], {"display": entry["display"], "valuesets": []})
            row["valuesets"].append(valueset["id"])
    return about, codes


def _sorted_unique(items: Iterable[str]) -> list[str]:
    return sorted(set(items))


def _in_order(first: Iterable[str], more: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*first, *more]))


class Builder:
    def __init__(self, additions: Mapping[str, Any]) -> None:
        self.additions = additions
        self.order = tuple(additions["class_order"])
        self.salts = frozenset(additions["matching"]["salt_words"])
        self.dose_forms: Mapping[str, Mapping[str, str]] = additions["dose_forms"]
        self.rule_rows = additions.get("class_rule", [])
        self.rules = class_rules_from(self.rule_rows)
        self.ingredient_rows = {row["name"]: row for row in additions["ingredient"]}
        self.ingredients = ingredients_from(self.ingredient_rows)
        self.concepts: dict[str, dict[str, Any]] = {}
        self.rxnorm: dict[str, dict[str, Any]] = {}
        self._check_classes()

    def _check_classes(self) -> None:
        for row in [*self.ingredient_rows.values(), *self.rule_rows,
                    *self.additions["product"]]:
            cls = row.get("class")
            if cls is not None and cls not in self.order:
                raise BuildError(f"{row.get('name', row)}: class {cls!r} not in class_order")

    def classify(self, ingredients: Iterable[str], route: str | None, form: str | None) -> str:
        return classify(self.rules, self.order, self.ingredients, tuple(ingredients), route, form)

    def add_generics(self) -> None:
        for name, row in self.ingredient_rows.items():
            self.concepts[slug(name)] = {
                "name": name, "brand": False, "ingredients": [name],
                "class": row["class"], "names": list(row.get("names", [])),
                "misspellings": list(row.get("misspellings", [])),
                "rxnorm": list(row.get("rxnorm", [])),
                "sources": list(row["sources"]),
            }

    def add_valueset_codes(self, codes: Mapping[str, Mapping[str, Any]]) -> None:
        for code, row in codes.items():
            parsed = parse_display(row["display"], self.salts)
            names = [s["ingredient"] for s in parsed["strengths"]]
            unknown = [n for n in names if n not in self.ingredients]
            if unknown:
                raise BuildError(f"RxNorm {code}: unclassified ingredient(s) {unknown}; "
                                 "add them to medicine_additions.toml")
            form = self.dose_forms.get(parsed["dose_form"])
            if form is None:
                raise BuildError(f"RxNorm {code}: dose form {parsed['dose_form']!r} is not "
                                 "in [dose_forms]")
            brand = slug(parsed["brand"]) if parsed["brand"] else None
            self.rxnorm[code] = {
                "display": row["display"], "brand": brand,
                "ingredients": _in_order(names, ()), "strengths": parsed["strengths"],
                "route": form["route"], "form": form["form"], "dose_form": parsed["dose_form"],
                "valuesets": sorted(row["valuesets"]), "sources": VALUESET_SOURCES,
            }
            if brand is not None:
                self._add_valueset_brand(brand, parsed["brand"], code)

    def _add_valueset_brand(self, cid: str, name: str, code: str) -> None:
        product = self.rxnorm[code]
        concept = self.concepts.setdefault(cid, {
            "name": name, "brand": True, "ingredients": [], "names": [], "misspellings": [],
            "rxnorm": [], "sources": list(VALUESET_SOURCES), "_dosage": set(),
            "known_strengths": [],
        })
        concept["ingredients"] = _in_order(concept["ingredients"], product["ingredients"])
        concept["rxnorm"].append(code)
        concept["_dosage"].add((product["route"], product["form"]))
        mg = {s["ingredient"]: s["value"] for s in product["strengths"] if s["unit"] == "mg"}
        if len(mg) == len(product["strengths"]) and mg not in concept["known_strengths"]:
            concept["known_strengths"].append(mg)

    def add_products(self) -> None:
        for row in self.additions["product"]:
            cid = slug(row["name"])
            unknown = [n for n in row["ingredients"] if n not in self.ingredients]
            if unknown:
                raise BuildError(f"product {row['name']}: unknown ingredient(s) {unknown}")
            concept = self.concepts.get(cid)
            if concept is not None and not concept["brand"]:
                raise BuildError(f"product {row['name']} has the id of a substance: rename it")
            if concept is not None and set(concept["ingredients"]) != set(row["ingredients"]):
                raise BuildError(f"product {row['name']}: ingredients {row['ingredients']} "
                                 f"differ from the value sets' {concept['ingredients']}")
            concept = concept or {"brand": True, "names": [], "misspellings": [], "rxnorm": [],
                                  "sources": [], "_dosage": set(), "known_strengths": []}
            concept.update(name=row["name"], ingredients=list(row["ingredients"]))
            concept["names"] = _in_order(row.get("names", []), concept["names"])
            concept["misspellings"] = _in_order(row.get("misspellings", []),
                                                concept["misspellings"])
            concept["sources"] = _in_order(row["sources"], concept["sources"])
            for key in ("class", "route", "form"):
                if key in row:
                    concept[key] = row[key]
            if "strengths" in row:
                concept["fixed_strengths"] = dict(row["strengths"])
            if row.get("ldn"):
                concept["ldn"] = True
            self.concepts[cid] = concept

    def finish_brands(self) -> None:
        """Fix route, form and class of brands that the additions did not set."""
        for cid, concept in self.concepts.items():
            dosage = concept.pop("_dosage", set())
            if not concept["brand"]:
                continue
            if "route" not in concept and len(dosage) == 1:
                concept["route"], concept["form"] = next(iter(dosage))
            if "class" not in concept:
                concept["class"] = self.classify(concept["ingredients"], concept.get("route"),
                                                 concept.get("form"))
            concept["known_strengths"] = sorted(concept["known_strengths"],
                                                key=lambda s: sorted(s.items()))
            if not concept["known_strengths"]:
                del concept["known_strengths"]
            if cid in self.rxnorm:
                raise BuildError(f"concept id {cid} collides with an RxNorm code")

    def classify_codes(self) -> None:
        for product in self.rxnorm.values():
            brand = self.concepts.get(product["brand"]) if product["brand"] else None
            if brand is not None and brand.get("class") and brand.get("_override"):
                product["class"] = brand["class"]
            else:
                product["class"] = self.classify(product["ingredients"], product["route"],
                                                 product["form"])
        for concept in self.concepts.values():
            for code in concept["rxnorm"]:
                if code not in self.rxnorm:
                    self.rxnorm[code] = {  # an ingredient-level code (e.g. 7243 naltrexone)
                        "display": concept["name"], "brand": None,
                        "ingredients": concept["ingredients"], "strengths": [],
                        "route": None, "form": None, "class": concept["class"],
                        "valuesets": [], "sources": ["rxnorm"],
                    }
            concept["rxnorm"] = sorted(concept["rxnorm"], key=int)

    def mark_overrides(self) -> None:
        # Branded codes take the class the additions give their brand (Suboxone is
        # dependence treatment whatever its form); other codes are classified by rule.
        for row in self.additions["product"]:
            if "class" in row:
                self.concepts[slug(row["name"])]["_override"] = True

    def check_names(self) -> None:
        seen: dict[str, str] = {}
        for cid, concept in self.concepts.items():
            for name in (concept["name"], *concept["names"]):
                key = " ".join(re.findall(r"#\d+|\d+(?:\.\d+)?|[^\W\d_]+", name.lower()))
                other = seen.setdefault(key, cid)
                if other != cid and (self.concepts[other]["class"] != concept["class"]):
                    raise BuildError(f"name {name!r} names {other} and {cid} of different "
                                     "classes")

    def output(self, about: list[dict[str, Any]]) -> dict[str, Any]:
        for concept in self.concepts.values():
            concept.pop("_override", None)
        text = self.additions
        return {
            "about": {
                "generated_by": "scripts/build_medicines.py (do not edit by hand)",
                "additions": "medicine_additions.toml",
                "valuesets": sorted(about, key=lambda v: v["id"]),
            },
            "class_order": list(self.order),
            "class_rules": self.rule_rows,
            "matching": {k: v for k, v in text["matching"].items() if k != "salt_words"},
            "text": {"forms": text["text_form"], "routes": text["text_route"],
                     "frequency": text["frequency"], "cues": text["cues"]},
            "ingredients": {name: {"class": row["class"], "atc": row.get("atc", []),
                                   "sources": row["sources"]}
                            for name, row in self.ingredient_rows.items()},
            "concepts": self.concepts,
            "rxnorm": self.rxnorm,
        }


def build(valuesets: Path, additions_path: Path = ADDITIONS) -> dict[str, Any]:
    additions = tomllib.loads(additions_path.read_text("utf-8"))
    about, codes = read_valuesets(valuesets)
    builder = Builder(additions)
    builder.add_generics()
    builder.add_valueset_codes(codes)
    builder.add_products()
    builder.mark_overrides()
    builder.finish_brands()
    builder.classify_codes()
    builder.check_names()
    return builder.output(about)


def render(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("valuesets", nargs="?", type=Path, default=DEFAULT_VALUESETS,
                        help="folder with the CDC value-set JSON files")
    parser.add_argument("--additions", type=Path, default=ADDITIONS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        text = render(build(args.valuesets, args.additions))
    except (BuildError, OSError) as error:
        print(f"build_medicines: {error}", file=sys.stderr)
        return 1
    args.output.write_text(text, "utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
