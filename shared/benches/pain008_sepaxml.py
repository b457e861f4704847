"""Writes the benchmark's pain.008 with python-sepaxml (PyPI `sepaxml`).

Run by benches/pain008.rs as `python pain008_sepaxml.py N OUT_FILE`; it builds the same
collections as the Rust cases (see `collection` in pain008.rs) and prints
`elapsed_seconds=<s> bytes=<n>` for the bench to read. sepaxml builds an ElementTree of the
whole file before it serialises it, so its memory grows with the batch.
"""

import datetime
import sys
import time

from sepaxml import SepaDD

IBANS = [
    "NL91ABNA0417164300",
    "DE02120300000000202051",
    "DE02100100100006820101",
    "FR1420041010050500013M02606",
    "AT611904300234573201",
    "BE68539007547034",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
]


def main():
    count = int(sys.argv[1])
    out_file = sys.argv[2]
    started = time.perf_counter()

    config = {
        "name": "Stadtwerke Müller & Söhne GmbH",
        "IBAN": "DE89370400440532013000",
        "BIC": "DEUTDEFF",
        "batch": True,
        "creditor_id": "DE98ZZZ09999999999",
        "currency": "EUR",
        "instrument": "CORE",
    }
    document = SepaDD(config, schema="pain.008.001.08", clean=True)
    collection_date = datetime.date(2026, 7, 20)
    signed_on = datetime.date(2025, 1, 15)
    first_count = count // 10
    for i in range(count):
        payment = {
            "name": f"Jürgen Müller-Lüdenscheidt {i}",
            "IBAN": IBANS[i % len(IBANS)],
            "amount": 1000 + (i * 7919) % 100000,
            "type": "FRST" if i < first_count else "RCUR",
            "collection_date": collection_date,
            "mandate_id": f"TR-MANDATE-{i:08}",
            "mandate_date": signed_on,
            "description": f"Rate {i % 12 + 1} von 12, Plan {i:08}, Rechnung für März",
            "endtoend_id": f"E2E-{i:08}",
        }
        if i % 2 == 0:
            payment["BIC"] = "COBADEFFXXX"
        document.add_payment(payment)
    xml = document.export(validate=False)
    with open(out_file, "wb") as file:
        file.write(xml)

    elapsed = time.perf_counter() - started
    print(f"elapsed_seconds={elapsed:.6f} bytes={len(xml)}")


if __name__ == "__main__":
    main()
