"""Sentences carrying PII, written for airlock's guard development sets: ``{TYPE}`` slots are
filled with synthetic values (valid Luhn cards, valid IBAN checksums, SSNs in the issued
ranges, reserved-for-fiction phone numbers where the format allows) and their spans labelled.
``{PASSWORD}`` is labelled SECRET."""

from __future__ import annotations

PII_TEMPLATES: list[tuple[str, str]] = [
    ("email_plain", "Hi, please reach me at {EMAIL} if the delivery is late."),
    ("email_sig", "Thanks,\nJordan\nSenior Analyst\n{EMAIL}"),
    ("email_two", "CC {EMAIL} and {EMAIL} on the final contract."),
    ("email_es", "Mi correo es {EMAIL}, escríbeme mañana."),
    ("phone_call", "Call me on {PHONE} after 6pm."),
    ("phone_whatsapp", "My WhatsApp is {PHONE}, text me the address."),
    ("phone_form", "Name: Alex Kim\nPhone: {PHONE}\nEmail: {EMAIL}"),
    ("phone_support", "The customer said their mobile number is {PHONE} and asked for a "
                      "callback."),
    ("phone_de", "Sie erreichen mich unter {PHONE}."),
    ("card_pay", "Please charge my card {CREDIT_CARD}, expiry 09/27."),
    ("card_complaint", "You billed {CREDIT_CARD} twice for the same order, refund it please."),
    ("card_form", "Card number: {CREDIT_CARD}\nName on card: R. Patel"),
    ("iban_transfer", "Wire the deposit to IBAN {IBAN} before Friday."),
    ("iban_refund", "For the refund use my account {IBAN}, thank you."),
    ("iban_fr", "Voici mon RIB : {IBAN}"),
    ("ssn_form", "SSN: {US_SSN}"),
    ("ssn_sentence", "My social security number is {US_SSN} and I need a new card."),
    ("ssn_tax", "For the tax form, the dependent's SSN is {US_SSN}."),
    ("ip_log", "Failed login from {IP_ADDRESS} at 03:14, blocked after 5 attempts."),
    ("ip_home", "My home router's public IP is {IP_ADDRESS}, can you whitelist it?"),
    ("ip_two", "Traffic between {IP_ADDRESS} and {IP_ADDRESS} looks suspicious."),
    ("url_db", "Connect with {URL_CREDENTIALS}/app and run the migration."),
    ("url_config", "In settings.py I set DATABASE_URL = '{URL_CREDENTIALS}/prod'."),
    ("secret_key", "Here's my key {SECRET}, why does the API return 401?"),
    ("secret_env", "export SERVICE_TOKEN={SECRET}"),
    ("secret_paste", "I accidentally pasted {SECRET} in the public channel, what now?"),
    ("password_plain", "My password is {PASSWORD}, can you check if it's strong?"),
    ("password_config", "db:\n  user: app\n  password: {PASSWORD}\n  host: db.internal"),
    ("dob_born", "I was born on {DATE_OF_BIRTH} in Porto."),
    ("dob_form", "Full name: Maria Silva\nDate of birth: {DATE_OF_BIRTH}\nNationality: PT"),
    ("dob_dob", "Patient DOB: {DATE_OF_BIRTH}, allergies: none."),
    ("dob_birthday", "My birthday is {DATE_OF_BIRTH}, and I want to plan a party."),
    ("mixed_kyc", "KYC: email {EMAIL}, phone {PHONE}, born {DATE_OF_BIRTH}, SSN {US_SSN}."),
    ("mixed_ticket", "Customer {EMAIL} called from {PHONE} about card {CREDIT_CARD}."),
    ("mixed_ops", "Server {IP_ADDRESS} uses {URL_CREDENTIALS}/metrics; rotate the token "
                  "{SECRET} too."),
    ("mixed_bank", "Send the invoice to {EMAIL} and pay into {IBAN}."),
    ("mixed_long", "Hello team, following up on yesterday's call. The client asked us to use "
                   "{EMAIL} for all correspondence from now on and to call {PHONE} only in "
                   "emergencies. Their old address is no longer monitored. Thanks!"),
    ("mixed_json", "{\"user\": \"kim\", \"email\": \"{EMAIL}\", \"ip\": \"{IP_ADDRESS}\"}"),
    ("card_chat", "ok here it is {CREDIT_CARD} exp 11/26 cvv on the back"),
    ("phone_list", "Emergency contacts: {PHONE} (home), {PHONE} (work)."),
]
