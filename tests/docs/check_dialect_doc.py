#!/usr/bin/python3
"""Checks docs/dialect.md, the op reference generated from ODS.

Usage: check_dialect_doc.py GENERATED COMMITTED

GENERATED is mlir-tblgen's -gen-dialect-doc output for the kiln dialect
(build/ir/include/kiln/ir/KilnDialect.md), COMMITTED the copy in docs/. The
check fails when they differ (refresh with `ninja -C build kiln-docs`) or
when an op has no description of its own beyond its one-line summary.
"""
import re
import sys


def ops_without_description(text):
    missing = []
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        name = section.split("\n", 1)[0]
        # The description follows the syntax block and ends where the
        # traits, interfaces or the attribute/operand tables begin.
        after = section.split("```\n", 2)
        body = after[2] if len(after) == 3 else ""
        body = re.split(r"^(Traits:|Interfaces:|Effects:|#### )", body,
                        flags=re.M)[0]
        if len(body.strip()) < 40:
            missing.append(name)
    return missing


def main():
    generated, committed = sys.argv[1], sys.argv[2]
    with open(generated, encoding="utf-8") as f:
        text = f.read()
    ok = True
    missing = ops_without_description(text)
    if missing:
        ok = False
        print("ops without a description in ODS:")
        for name in missing:
            print("  " + name)
    try:
        with open(committed, encoding="utf-8") as f:
            current = f.read()
    except OSError:
        current = None
    if current != text:
        ok = False
        print(f"{committed} is not the ODS reference of this build: "
              "run `ninja -C build kiln-docs` and commit it")
    count = len(re.findall(r"^### ", text, flags=re.M))
    print(f"{count} ops, {count - len(missing)} with descriptions")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
