#!/usr/bin/env python3
"""Generates tests/data/waf/legit.jsonl: legitimate API requests for measuring WAF false positives.

Seeded and stdlib-only: the same Python gives the same file byte for byte.

    python3 bench/waf/gen_legit.py [--count 6000] [--out tests/data/waf/legit.jsonl]

The traffic is what a public API sees from browsers, mobile apps, SDKs and webhooks: JSON
bodies with names in many scripts, addresses, prices and free text that mentions SQL words;
product descriptions with <, & and quotes; developer-forum posts in Markdown, a minority with
SQL, HTML or shell snippets in code blocks; rich-text HTML from editors; GraphQL; form posts;
multipart uploads; XML and SOAP; binary uploads; tokens, UUIDs, ISO dates, URLs in parameters.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import string
import sys
import uuid
from urllib.parse import quote, quote_plus, urlencode

SEED = 20240917
DEFAULT_COUNT = 5300
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "tests", "data", "waf", "legit.jsonl")

# ----------------------------------------------------------------------------- pools

FIRST_NAMES = [
    "Anna", "James", "Zoë", "José", "François", "Renée", "Søren", "Łukasz", "Chloé", "Noah",
    "Mia", "Liam", "Olivia", "Mateo", "Amélie", "Jürgen", "Björn", "Siobhán", "Seán", "Niamh",
    "Aoife", "Raúl", "Inés", "Ümit", "Çağla", "Ólafur", "Dagný", "Priya", "Arjun", "Wei",
    "Mei", "Hiroshi", "Yuki", "Min-jun", "Seo-yeon", "Fatima", "Omar", "Aisha", "Kwame", "Ngozi",
    "Thandiwe", "Mohammed", "Elif", "Dmitri", "Olga", "Tomás", "Mariam", "Grace", "Ethan", "Ava",
]
LAST_NAMES = [
    "O'Brien", "D'Angelo", "O'Connor", "D'Souza", "McDonald", "St. John", "Smith-Jones",
    "van der Berg", "de la Cruz", "Al-Hassan", "N'Diaye", "Müller", "Lefèvre", "Álvarez",
    "Kowalski", "Wróbel", "Nguyễn", "Yılmaz", "Johansson", "Ó Súilleabháin", "García", "Rossi",
    "Dubois", "Schäfer", "Novák", "Andersen", "Okafor", "Mensah", "Patel", "Sharma", "Tanaka",
    "Kim", "Chen", "Wang", "Ivanova", "Papadopoulos", "Cohen", "Haddad", "Smith", "Jones",
    "Brown", "Taylor", "Wilson", "Martin", "Lee", "Walker", "O'Neill", "D'Arcy", "L'Estrange",
    "MacLeod",
]
NATIVE_NAMES = [
    "王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "محمد الأحمد", "فاطمة الزهراء", "عمر خالد",
    "ليلى حسن", "Иван Петров", "Ольга Смирнова", "Дмитрий Соколов", "Анна Кузнецова",
    "田中 太郎", "佐藤 花子", "鈴木 一郎", "김민준", "이서연", "박지훈", "Γιώργος Παπαδόπουλος",
    "Ελένη Νικολάου", "דוד כהן", "שרה לוי", "प्रिया शर्मा", "राहुल वर्मा", "Nguyễn Văn An",
    "Lê Thị Hoa", "สมชาย ใจดี", "Ahmet Çelik", "Zoë Ó Briain",
]
STREETS = [
    "12 Rue de l'Église", "221B Baker Street", "1 Union Square West", "48 St. John's Road",
    "Hauptstraße 5", "Calle de Alcalá 77", "Via dell'Orso 3", "10 Downing St", "5 Union Street",
    "742 Evergreen Terrace", "Ul. Marszałkowska 104/122", "Strandvejen 130", "3-1-1 Marunouchi",
    "Apt 4B, 350 Fifth Ave", "Flat 2, 17 O'Connell Street", "Unit 7 & 8, Mill Lane",
    "北京市朝阳区建国路88号", "ул. Тверская, д. 7, кв. 12", "شارع الملك فهد 21",
    "P.O. Box 1024", "Rua Augusta 274", "Kärntner Straße 21-23", "1600 Amphitheatre Pkwy",
    "9 Drop Lane", "Unit 4, Westpark Industrial Estate", "14 Orchard Street",
]
CITIES = [
    ("Dublin", "IE", "D02 X285"), ("Paris", "FR", "75004"), ("Berlin", "DE", "10115"),
    ("New York", "US", "10118"), ("London", "GB", "SW1A 2AA"), ("Madrid", "ES", "28014"),
    ("Roma", "IT", "00186"), ("Kraków", "PL", "31-042"), ("København", "DK", "2100"),
    ("Tōkyō", "JP", "100-0005"), ("北京", "CN", "100022"), ("Москва", "RU", "125009"),
    ("Riyadh", "SA", "12271"), ("São Paulo", "BR", "01310-100"), ("Wien", "AT", "1010"),
    ("Mountain View", "US", "94043"), ("Zürich", "CH", "8001"), ("Montréal", "CA", "H2Y 1C6"),
    ("Lagos", "NG", "101233"), ("Mumbai", "IN", "400001"),
]
PRODUCTS = [
    ("Oak dining table", 'Solid oak, 180 x 90 cm. Seats 6 & extends to 8 (2 leaves included).'),
    ("Cast-iron skillet 10\"", 'Pre-seasoned 10" skillet; oven-safe to 260 °C. Hand wash only!'),
    ("Bluetooth speaker", "Battery life < 12 h at 50% volume; > 20 h in eco mode."),
    ("Tom & Jerry mug", "Ceramic mug, 350 ml. \"Dishwasher safe\" <-- yes, really."),
    ("Union Jack cushion", "45 x 45 cm cover, zip closure. Filling sold separately."),
    ("USB-C cable (2 m)", "100 W PD, USB 3.2 Gen 2. Works with Mac & PC <3"),
    ("Drop-leaf table", "Select walnut or oak finish; folds to 30 cm deep."),
    ("Chef's knife 8\"", "VG-10 steel, 60 layers. Not for frozen food or bones."),
    ("Zoë's granola", "Oats, honey & almonds. May contain traces of nuts/peanuts."),
    ("Café au lait bowl", "Hand-thrown stoneware; each piece is unique (± 5 mm)."),
    ("Garden hose 25 m", "Anti-kink; ¾\" & ½\" connectors in the box."),
    ("Running shoes", "Breathable mesh upper, 8 mm drop. Sizes EU 36–47."),
    ("Desk lamp", "Warm/cool white, 3 levels; <5 W standby? No: 0.3 W."),
    ("Script notebook", "A5 dotted, 120 gsm. For bullet journals & hand lettering."),
    ("Insert tray", "Cutlery insert for 60 cm drawers; trim to fit."),
    ("抹茶 (matcha) 100g", "宇治産の抹茶。Ceremonial grade, from Uji."),
    ("Самовар электрический", "3 л, нержавеющая сталь. 220 В."),
    ("قهوة عربية", "Cardamom-spiced Arabic coffee, 250 g."),
]
SENTENCES = [
    "Please select the best plan for a team of 5.",
    "Drop-off at 5 pm, back entrance please.",
    "Union members get the 10% discount, right?",
    "Delete my account please, I no longer use it.",
    "Where or when? Either Tuesday or Wednesday works for me.",
    "I'd like to update my shipping address before it ships.",
    "Can you insert a gift note: 'Happy birthday, Mom!'",
    "Order by Friday to get it before the weekend?",
    'The table was 2 inches shorter than described (48" instead of 50").',
    "Tom & Jerry themed cake, 2 tiers, thanks <3",
    "Is it 1 or 2 batteries? The manual says 1 and the box says 2.",
    "Drop the price a little and I'll buy two :)",
    "Select 'express' at checkout - it didn't apply the fee correctly.",
    "I paid $49.99 & was charged $59.99. Please refund the difference.",
    "Great product!!! 5/5 would buy again 👍",
    "Left it at the front door; the neighbour (No. 12) can sign for it.",
    "Execute the order as soon as possible, thanks.",
    "Is there a script to import my contacts from Outlook?",
    "My files are in C:\\Users\\Anna\\Documents\\invoices - how do I upload them all at once?",
    'Where can I find the union fitting (1/2" to 3/4")?',
    "It says error 500 when I click 'Save & continue'.",
    "Can I book for 6 or 7 people from 19:00?",
    "I want to cancel; please don't charge me again.",
    "Type 'yes' to confirm? I typed it but nothing happened.",
    "Copy/paste from Excel adds weird characters like Ã© in the name field.",
    "The colour is more grey than blue, but I like it anyway.",
    "Arrived a day early, well packed. Five stars.",
    "Could you join both orders into one shipment?",
    "The drop-down for country doesn't list Côte d'Ivoire.",
    "Price went from €20 to €25 overnight -- why?",
    "Having trouble with the update: the app crashes on start (Android 14, Pixel 7).",
    "Replace the cable or refund me, whichever is easier for you.",
    "The 'Sort by: newest' option shows old items first.",
    "We're a non-profit; is there a discount for charities or schools?",
    "Remove me from the mailing list, please.",
    "Size chart says M = 38-40\", I'm 39\" so I picked M.",
    "I'm between sizes: 42 or 43?",
    "Grant access to my colleague (she's the admin now).",
    "Could you create an invoice with our VAT number (IE1234567T)?",
    "Two of the glasses were broken :( photos attached.",
    "Use the side door on Union Street - the main one is locked after 6.",
    "Table for two by the window if possible.",
    "Ring twice & wait; the bell is a bit slow.",
    "Where's my order? Tracking hasn't moved since Monday.",
    "Perfect fit. Ordered a second one in black.",
    "Declare it as a gift for customs, please.",
    "Alert me when it's back in stock.",
    "50% off? Is that with or without the coupon?",
    "My password reset email never arrives (checked spam).",
    "请在下午五点前送达，谢谢！",
    "هل يمكن التوصيل يوم الجمعة؟",
    "Пожалуйста, доставьте после 18:00, домофон не работает.",
    "配達は午後にお願いします。",
    "Παρακαλώ αφήστε το δέμα στον θυρωρό.",
    "נא להשאיר ליד הדלת.",
    "कृपया शाम 6 बजे के बाद डिलीवर करें।",
    "Bitte beim Nachbarn (Müller, 2. OG) abgeben.",
    "Livraison après 17h s'il vous plaît, merci !",
    "¿Pueden enviarlo antes del viernes?",
]
SEARCH_QUERIES = [
    "red running shoes size 10", "O'Brien", "union square hotels", "select comfort mattress",
    "drop leaf table", "c# async await", "what is 1+1", "50% off", "北京 烤鸭", "москва отели",
    "café near me", "tom & jerry dvd", "\"exact phrase\" search", "-excluded +required terms",
    "node.js or deno", "where to buy union jack flag", "how to delete files in linux",
    "D'Angelo album", "ikea billy 80x28x202", "mens t-shirt (xl)", "iphone 15 case", "é",
    "الرياض مطاعم", "東京 ラーメン", "best 4k tv 2024", "order tracking", "1/2 inch drill bit",
    "gift for dad <50", "shampoo 500ml", "sql for beginners book", "javascript the good parts",
    "Zoë Kravitz", "Los Angeles → San Francisco", "where or when lyrics", "script font",
    "insert coin sound", "drop shipping", "table tennis", "update firmware router",
]
WORDS = (
    "the quick brown fox jumps over a lazy dog while we wait for the delivery window "
    "and check the order status again before the weekend starts in the city center "
    "please note that prices include tax and shipping is free above fifty euros today"
).split()
TAGS = ["python", "javascript", "sql", "postgresql", "react", "rust", "docker", "aws", "css",
        "html", "bash", "api", "oauth", "graphql", "kubernetes", "go", "java", "typescript"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "PLN", "INR", "BRL", "CNY", "SAR"]
STATUSES = ["open", "closed", "pending", "shipped", "cancelled", "draft", "archived"]
SORTS = ["-created_at", "created_at", "-updated_at", "name", "-price", "price", "relevance"]
TIMEZONES = ["Europe/Dublin", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC",
             "Asia/Kolkata", "America/Sao_Paulo", "Australia/Sydney"]

BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
]
CHROME_HINTS = [
    ('"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"', '"Windows"'),
    ('"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"', '"Linux"'),
    ('"Microsoft Edge";v="123", "Not:A-Brand";v="8", "Chromium";v="123"', '"Windows"'),
]
SDK_UAS = [
    "aws-sdk-js/3.556.0 ua/2.0 os/linux#5.10.0 lang/js md/nodejs#20.12.2 api/execute-api#3.556.0",
    "Boto3/1.34.93 md/Botocore#1.34.93 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.93",
    "python-requests/2.31.0",
    "python-httpx/0.27.0",
    "okhttp/4.12.0",
    "axios/1.6.8",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "curl/8.5.0",
    "PostmanRuntime/7.37.3",
    "Apache-HttpClient/4.5.14 (Java/17.0.10)",
    "Java/17.0.10",
    "Dart/3.3 (dart:io)",
    "RestSharp/110.2.0.0",
    "Faraday v2.9.0",
    "GuzzleHttp/7",
    "insomnia/2023.5.8",
]
APP_UAS = [
    "ShopApp/5.4.1 (iPhone; iOS 17.4.1; Scale/3.00)",
    "ShopApp/5.4.0 (com.example.shop; build:5400; Android 14) okhttp/4.12.0",
    "Tasks/2.18 CFNetwork/1494.0.7 Darwin/23.4.0",
    "FoodOrder/3.2.7 (Android 13; SM-A546B; Build/TP1A.220624.014)",
]
WEBHOOK_UAS = [
    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "GitHub-Hookshot/8a3f2c1",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "TwilioProxy/1.1",
    "Shopify-Captain-Hook",
]
ACCEPT_LANGUAGES = [
    "en-US,en;q=0.9", "en-GB,en;q=0.9", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    "de-DE,de;q=0.9,en;q=0.8", "zh-CN,zh;q=0.9,en;q=0.8", "ar-SA,ar;q=0.9,en;q=0.8",
    "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ja-JP,ja;q=0.9", "es-ES,es;q=0.9", "pl-PL,pl;q=0.9",
    "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", "ga-IE,ga;q=0.9,en-IE;q=0.8,en;q=0.7", "*",
]
APP_ORIGINS = ["https://app.example.com", "https://shop.example.com", "https://www.example.org",
               "https://dashboard.example.io", "http://localhost:3000"]

# ----------------------------------------------------------------------------- helpers


class Gen:
    """All randomness goes through one seeded Random."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.session_counter = 0

    # -- primitives
    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    def uuid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def hex(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n):
        return "".join(self.r.choice(string.ascii_letters + string.digits) for _ in range(n))

    def b64(self, nbytes, urlsafe=False, pad=True):
        raw = bytes(self.r.getrandbits(8) for _ in range(nbytes))
        out = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
        return out if pad else out.rstrip("=")

    def b64url_json(self, obj):
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def jwt(self):
        header = {"alg": self.pick(["RS256", "ES256", "ES256", "HS256", "HS256"]), "typ": "JWT", "kid": self.alnum(12)}
        iat = 1_709_000_000 + self.r.randrange(10_000_000)
        payload = {
            "sub": self.uuid(),
            "iss": self.pick(["https://auth.example.com/", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E",
                              "https://login.example.org/realms/main"]),
            "aud": self.pick(["api", "orders-api", "https://api.example.com"]),
            "iat": iat,
            "exp": iat + 3600,
            "scope": self.pick(["openid profile email", "orders:read orders:write", "read:messages"]),
        }
        if self.chance(0.5):
            payload["email"] = self.email()
        sig_len = 64 if header["alg"] == "ES256" else (32 if header["alg"] == "HS256" else 256)
        return f"{self.b64url_json(header)}.{self.b64url_json(payload)}.{self.b64(sig_len, urlsafe=True, pad=False)}"

    def iso(self, with_time=True):
        y = self.pick([2023, 2024, 2025])
        m = self.r.randint(1, 12)
        d = self.r.randint(1, 28)
        if not with_time:
            return f"{y:04d}-{m:02d}-{d:02d}"
        hh, mm, ss = self.r.randint(0, 23), self.r.randint(0, 59), self.r.randint(0, 59)
        tail = self.pick(["Z", "+00:00", "+02:00", "-05:00", ".123Z", "+05:30"])
        return f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}{tail}"

    def price(self):
        return round(self.r.uniform(0.5, 900), 2)

    def name(self):
        if self.chance(0.2):
            return self.pick(NATIVE_NAMES)
        return f"{self.pick(FIRST_NAMES)} {self.pick(LAST_NAMES)}"

    def email(self, name=None):
        local = (name or f"{self.pick(FIRST_NAMES)}.{self.pick(LAST_NAMES)}")
        local = "".join(c for c in local.lower() if c.isascii() and (c.isalnum() or c in "._-'+"))
        local = local.strip(".") or "user"
        if self.chance(0.15):
            local += "+" + self.pick(["shop", "news", "work", "test"])
        return f"{local}@{self.pick(['example.com', 'mail.example.org', 'example.co.uk', 'example.ie', 'example.de'])}"

    def phone(self):
        return self.pick(["+353 1 ", "+1 (415) ", "+44 20 ", "+49 30 ", "+33 1 ", "+81 3-"]) + \
            f"{self.r.randint(100, 999)} {self.r.randint(1000, 9999)}"

    def address(self):
        city, country, postcode = self.pick(CITIES)
        addr = {"line1": self.pick(STREETS), "city": city, "postal_code": postcode, "country": country}
        if self.chance(0.3):
            addr["line2"] = self.pick(["c/o Reception", "Floor 3", "Building B", "Rear entrance", "Apt. 12"])
        return addr

    def sentence(self):
        return self.pick(SENTENCES)

    def text(self, lo=1, hi=3):
        return " ".join(self.sentence() for _ in range(self.r.randint(lo, hi)))

    def long_text(self):
        paras = []
        for _ in range(self.r.randint(2, 5)):
            words = [self.pick(WORDS) for _ in range(self.r.randint(30, 90))]
            para = " ".join(words).capitalize() + ". " + self.sentence()
            paras.append(para)
        return "\n\n".join(paras)

    def slug(self):
        return "-".join(self.pick(WORDS) for _ in range(self.r.randint(2, 5)))

    def object_id(self, prefix):
        return f"{prefix}_{self.alnum(24)}"

    def int_id(self):
        return str(self.r.randint(1, 9_999_999))

    # -- headers
    def cookie(self, browser):
        parts = [f"sid={self.hex(32)}"]
        if browser:
            parts.append(f"_ga=GA1.2.{self.r.randint(10**8, 10**9)}.{1_700_000_000 + self.r.randrange(10**7)}")
            if self.chance(0.5):
                parts.append(f"_gid=GA1.2.{self.r.randint(10**8, 10**9)}.{1_700_000_000 + self.r.randrange(10**7)}")
            if self.chance(0.4):
                parts.append(f"_fbp=fb.1.{1_700_000_000_000 + self.r.randrange(10**10)}.{self.r.randint(10**8, 10**9)}")
            consent = self.r.randrange(8)
            if consent == 0:
                parts.append(
                    "OptanonConsent=isGpcEnabled=0&datestamp=Mon+Mar+04+2024+10%3A15%3A00+GMT%2B0100+(Central+European+Standard+Time)"
                    f"&version=202401.1.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId={self.uuid()}"
                    "&interactionCount=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A1%2CC0004%3A0")
            elif consent == 1:
                parts.append(f"euconsent-v2=CP{self.b64(60, urlsafe=True, pad=False)}.YAAAAAAAAAAA")
            elif consent == 2:
                parts.append(
                    f"CookieConsent={{stamp:%27{self.b64(30, pad=False).replace('/', 'x').replace('+', 'y')}==%27%2Cnecessary:true"
                    "%2Cpreferences:true%2Cstatistics:false%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1"
                    f"%2Cutc:{1_709_000_000_000 + self.r.randrange(10**9)}%2Cregion:%27ie%27}}")
            elif consent == 3:
                parts.append(f"cookieyes-consent=consentid:{self.b64(24, pad=False)},consent:yes,action:yes,necessary:yes,functional:yes,analytics:no,performance:no,advertisement:no")
            if self.chance(0.3):
                parts.append(f"csrftoken={self.alnum(32)}")
            if self.chance(0.3):
                parts.append(f"ajs_anonymous_id=%22{self.uuid()}%22")
            if self.chance(0.25):
                parts.append(f"lang={self.pick(['en-GB', 'fr-FR', 'de', 'zh-Hans', 'ar'])}")
            if self.chance(0.2):
                parts.append(f"theme={self.pick(['dark', 'light', 'system'])}")
            if self.chance(0.2):
                parts.append(f"cart=%7B%22items%22%3A{self.r.randint(1, 9)}%2C%22currency%22%3A%22EUR%22%7D")
            if self.chance(0.2):
                parts.append(f"AWSALB={self.b64(90)}")
            if self.chance(0.04):
                parts.append(f"id_token={self.jwt()}")
        return "; ".join(parts)

    def client(self):
        roll = self.r.random()
        if roll < 0.50:
            return "browser"
        if roll < 0.65:
            return "app"
        return "sdk"

    def headers(self, client, accept="application/json", auth=True, path_for_referer="/"):
        h = []
        if client == "browser":
            ua = self.pick(BROWSER_UAS)
            origin = self.pick(APP_ORIGINS)
            h.append(("User-Agent", ua))
            h.append(("Accept", self.pick([accept, "application/json, text/plain, */*", "*/*"])))
            h.append(("Accept-Language", self.pick(ACCEPT_LANGUAGES)))
            h.append(("Accept-Encoding", self.pick(["gzip, deflate, br", "gzip, deflate, br, zstd", "gzip, deflate"])))
            if "Chrome/" in ua and "Mobile" not in ua and self.chance(0.7):
                brands, platform = self.pick(CHROME_HINTS)
                h.append(("sec-ch-ua", brands))
                h.append(("sec-ch-ua-mobile", "?0"))
                h.append(("sec-ch-ua-platform", platform))
                h.append(("Sec-Fetch-Dest", "empty"))
                h.append(("Sec-Fetch-Mode", "cors"))
                h.append(("Sec-Fetch-Site", "same-site"))
            h.append(("Origin", origin))
            h.append(("Referer", origin + self.pick(["/", "/cart", "/account/settings", "/orders?page=2",
                                                     "/search?q=" + quote_plus(self.pick(SEARCH_QUERIES)),
                                                     "/products/" + self.slug()])))
            h.append(("Cookie", self.cookie(True)))
            if auth and self.chance(0.2):
                h.append(("Authorization", "Bearer " + self.jwt()))
            if self.chance(0.3):
                h.append(("X-CSRF-Token", self.b64(32, urlsafe=True, pad=False)))
        elif client == "app":
            h.append(("User-Agent", self.pick(APP_UAS)))
            h.append(("Accept", accept))
            h.append(("Accept-Language", self.pick(ACCEPT_LANGUAGES)))
            h.append(("Accept-Encoding", "gzip"))
            if auth:
                h.append(("Authorization", "Bearer " + self.jwt()))
            h.append(("X-App-Version", f"{self.r.randint(2, 6)}.{self.r.randint(0, 20)}.{self.r.randint(0, 9)}"))
            h.append(("X-Device-Id", self.uuid()))
        else:
            ua = self.pick(SDK_UAS)
            h.append(("User-Agent", ua))
            if not ua.startswith("Go-http-client") or self.chance(0.5):
                h.append(("Accept", self.pick([accept, "*/*", "application/json"])))
            h.append(("Accept-Encoding", self.pick(["gzip", "gzip, deflate", "identity", "gzip, deflate, br"])))
            if auth:
                if self.chance(0.7):
                    h.append(("Authorization", "Bearer " + self.jwt()))
                else:
                    h.append(("x-api-key", self.alnum(40)))
        if self.chance(0.3):
            h.append(("X-Request-Id", self.uuid()))
        if self.chance(0.1):
            h.append(("traceparent", f"00-{self.hex(32)}-{self.hex(16)}-01"))
        return h

    def json_body(self, client, obj):
        if client == "sdk" and self.chance(0.5):
            return json.dumps(obj)  # Python-style: ASCII with \u escapes, spaces after separators
        if self.chance(0.1):
            return json.dumps(obj, ensure_ascii=False, indent=2)
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ----------------------------------------------------------------------------- request kinds

def req(kind, method, path, query="", headers=(), body=None):
    out = {"kind": kind, "method": method, "path": path, "query": query, "headers": [list(h) for h in headers]}
    if body is not None:
        if isinstance(body, str):
            out["body"] = body
        else:
            try:
                out["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                out["body_b64"] = base64.b64encode(body).decode()
    return out


def enc_path(segment):
    return quote(segment, safe="-._~!$&'()*+,;=:@")


def gen_get(g):
    client = g.client()
    family = g.r.randrange(16)
    q = []
    brackets_raw = g.chance(0.5)

    def fkey(k):
        return k if brackets_raw else quote(k, safe="")

    if family == 0:
        path = g.pick(["/v1/orders", "/api/v2/invoices", "/v1/tickets", "/api/users/me/orders"])
        q = [("status", g.pick(STATUSES)), ("page", str(g.r.randint(1, 40))), ("per_page", g.pick(["20", "50", "100"])),
             ("sort", g.pick(SORTS))]
        query = urlencode(q)
    elif family == 1:
        path = g.pick(["/api/search", "/v1/products/search", "/search", "/api/v1/catalog/search"])
        q = [("q", g.pick(SEARCH_QUERIES))]
        if g.chance(0.5):
            q.append(("lang", g.pick(["en", "fr", "de", "zh", "ar", "ru", "ja"])))
        if g.chance(0.4):
            q.append(("limit", str(g.pick([10, 20, 24, 48]))))
        query = urlencode(q) if g.chance(0.7) else urlencode(q, quote_via=quote)
    elif family == 2:
        path = f"/v1/orders/{g.uuid()}"
        query = g.pick(["", "", "expand=items,customer", "expand%5B%5D=items&expand%5B%5D=payment", "fields=id,status,total"])
    elif family == 3:
        path = f"/api/users/{g.int_id()}/comments"
        query = urlencode([("limit", g.pick(["10", "20", "50"])), ("offset", str(g.r.randrange(0, 500, 10))),
                           ("since", g.iso())])
    elif family == 4:
        verifier = g.b64(32, urlsafe=True, pad=False)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        path = "/oauth2/authorize"
        query = urlencode([("response_type", "code"), ("client_id", g.alnum(26).lower()),
                           ("redirect_uri", g.pick(["https://app.example.com/cb", "https://app.example.com/auth/callback?next=%2Fdashboard",
                                                    "com.example.shop://oauth/callback", "http://localhost:3000/callback"])),
                           ("scope", g.pick(["openid profile email", "openid offline_access", "orders:read"])),
                           ("state", g.b64(16, urlsafe=True, pad=False)), ("nonce", g.alnum(20)),
                           ("code_challenge", challenge), ("code_challenge_method", "S256")])
    elif family == 5:
        path = g.pick(["/logout", "/auth/logout", "/sso/return"])
        target = g.pick(["https://app.example.com/", "https://app.example.com/goodbye?lang=fr",
                         "https://shop.example.com/cart#checkout"])
        key = g.pick(["post_logout_redirect_uri", "redirect_uri", "return_to", "next"])
        query = f"{key}={target}" if g.chance(0.3) and "#" not in target else urlencode([(key, target)])
    elif family == 6:
        path = g.pick(["/api/articles", "/api/v1/issues", "/jsonapi/node/article"])
        parts = [(fkey("filter[status]"), g.pick(STATUSES)), ("include", g.pick(["author", "author,comments", "tags"]))]
        if g.chance(0.5):
            parts.append((fkey("filter[author]"), g.int_id()))
        if g.chance(0.5):
            parts.append((fkey("fields[articles]"), "title,body,created"))
        parts.append((fkey("page[number]"), str(g.r.randint(1, 9))))
        parts.append((fkey("page[size]"), g.pick(["10", "25", "50"])))
        parts.append(("sort", g.pick(SORTS)))
        query = "&".join(f"{k}={quote(v, safe=',-')}" for k, v in parts)
    elif family == 7:
        path = g.pick(["/v1/reports/sales", "/api/analytics/summary", "/v2/metrics/usage"])
        query = urlencode([("from", g.iso(False)), ("to", g.iso(False)), ("group_by", g.pick(["day", "week", "month"])),
                           ("tz", g.pick(TIMEZONES)), ("currency", g.pick(CURRENCIES))])
    elif family == 8:
        path = "/v1/stores/nearby"
        query = urlencode([("lat", f"{g.r.uniform(-60, 70):.6f}"), ("lng", f"{g.r.uniform(-170, 170):.6f}"),
                           ("radius", g.pick(["1km", "5km", "10mi"])), ("open_now", g.pick(["true", "false"]))])
    elif family == 9:
        name = g.pick(["Q1 2024 summary.pdf", "Rechnung März.pdf", "報告書.docx", "photo (1).jpg", "notes & ideas.txt",
                       "O'Brien contract v2.pdf", "budget_2025-final.xlsx"])
        path = f"/files/{g.pick(['reports', 'shared', 'u/' + g.int_id()])}/{enc_path(name)}"
        query = g.pick(["", "download=1", f"version={g.r.randint(1, 9)}"])
    elif family == 10:
        title = g.pick(["Москва", "東京都", "São_Paulo", "Côte_d'Ivoire", "Union_(set_theory)", "SQL", "Drop_(liquid)",
                        "Select_(SQL)", "C++", "Ελλάδα", "القاهرة"])
        path = f"/wiki/{enc_path(title)}"
        query = g.pick(["", "action=history", "oldid=" + g.int_id()])
    elif family == 11:
        path = "/collect"
        page = g.pick(APP_ORIGINS) + g.pick(["/cart?item=3", "/products/" + g.slug(), "/search?q=" + quote_plus(g.pick(SEARCH_QUERIES))])
        query = urlencode([("v", "2"), ("tid", "G-" + g.alnum(10).upper()), ("cid", f"{g.r.randint(10**8, 10**9)}.{g.r.randint(10**9, 2 * 10**9)}"),
                           ("en", g.pick(["page_view", "add_to_cart", "purchase", "scroll"])), ("dl", page),
                           ("dt", g.pick(["Cart – Shop", "Zoë's Café | Menu", "Résultats de recherche", "订单详情"])),
                           ("ul", g.pick(["en-us", "fr-fr", "zh-cn"])), ("sr", g.pick(["1920x1080", "390x844"]))])
    elif family == 12:
        path = "/v1/events"
        query = urlencode([("cursor", g.b64url_json({"id": g.r.randint(1, 10**7), "ts": g.iso()})), ("limit", "100")])
    elif family == 13:
        path = g.pick(["/webhooks/meta", "/hooks/verify"])
        query = urlencode([("hub.mode", "subscribe"), ("hub.challenge", str(g.r.randint(10**8, 10**9))),
                           ("hub.verify_token", g.alnum(24))])
    elif family == 14:
        path = g.pick(["/graphql", "/api/graphql"])
        ext = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": g.hex(64)}}, separators=(",", ":"))
        variables = json.dumps({"id": g.uuid(), "first": 20}, separators=(",", ":"))
        query = urlencode([("operationName", g.pick(["GetOrder", "ListProducts", "Viewer"])), ("variables", variables),
                           ("extensions", ext)])
    else:
        seg = g.pick([f"/api/users/@{g.pick(['zoe', 'jose.alvarez', 'dangelo', 'obrien_j'])}",
                      f"/v1/projects/{g.int_id()}:archive", f"/v2/stores/{g.int_id()}/products/{g.alnum(8).upper()}",
                      f"/blog/{g.iso(False)[:4]}/{g.slug()}", f"/api/customers/{g.object_id('cus')}",
                      f"/v1/payment_intents/{g.object_id('pi')}", f"/api/v1/products/{g.int_id()}.json",
                      "/api/users/me", "/v1/me/preferences"])
        path = seg
        query = g.pick(["", "", "locale=de-DE", "currency=JPY", "ref=newsletter&utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale"])
    headers = g.headers(client, path_for_referer=path)
    if g.chance(0.1):
        headers.append(("If-None-Match", f'W/"{g.hex(16)}"'))
    if g.chance(0.05):
        headers.append(("Cache-Control", "no-cache"))
    return req("get", "GET", path, query, headers)


def gen_delete(g):
    client = g.client()
    path = g.pick([f"/v1/orders/{g.uuid()}", f"/api/users/{g.int_id()}/sessions/{g.uuid()}",
                   f"/v1/carts/{g.uuid()}/items/{g.alnum(8).upper()}", f"/v1/webhooks/{g.object_id('we')}",
                   f"/api/v1/comments/{g.int_id()}", f"/v1/files/{g.uuid()}", f"/api/users/me/addresses/{g.int_id()}"])
    query = g.pick(["", "", "", "force=true", "reason=duplicate", "cascade=false&dry_run=true"])
    return req("delete", "DELETE", path, query, g.headers(client))


def order_obj(g):
    items = []
    for _ in range(g.r.randint(1, 4)):
        name, desc = g.pick(PRODUCTS)
        items.append({"sku": g.alnum(8).upper(), "name": name, "qty": g.r.randint(1, 5), "unit_price": g.price()})
        if g.chance(0.2):
            items[-1]["description"] = desc
    obj = {"customer": {"name": g.name(), "email": g.email(), "phone": g.phone()},
           "shipping_address": g.address(), "items": items, "currency": g.pick(CURRENCIES)}
    if g.chance(0.6):
        obj["notes"] = g.text(1, 2)
    if g.chance(0.3):
        obj["coupon"] = g.pick(["SPRING24", "WELCOME10", "FREESHIP", "UNION-15"])
    if g.chance(0.3):
        obj["delivery_window"] = {"from": g.iso(), "to": g.iso()}
    if g.chance(0.2):
        obj["gift_message"] = g.pick(["Happy birthday, Mom! <3", "To Zoë & Seán — congrats!", "Bon anniversaire 🎂",
                                      "生日快乐！", "С днём рождения!", "Merry Xmas from the O'Briens"])
    return obj


def gen_json(g):
    client = g.client()
    family = g.r.randrange(14)
    method = "POST"
    ctype = g.pick(["application/json", "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"])
    if family == 0:
        path = g.pick(["/v1/orders", "/api/checkout/orders", "/v2/carts/" + g.uuid() + "/checkout"])
        obj = order_obj(g)
        if g.chance(0.5):
            headers_extra = [("Idempotency-Key", g.uuid())]
        else:
            headers_extra = []
    elif family == 1:
        method = "PATCH"
        path = g.pick(["/api/users/me", f"/api/users/{g.int_id()}", f"/v1/profiles/{g.uuid()}"])
        obj = {}
        if g.chance(0.7):
            obj["display_name"] = g.name()
        if g.chance(0.6):
            obj["bio"] = g.pick(["Coffee & code. Opinions are my own.", "Ingénieure logicielle à Lyon 🇫🇷",
                                 "SELECT * FROM life WHERE fun = true; -- just kidding", "Dad, runner, <3 open source",
                                 "数据工程师，喜欢爬山。", "مطور برمجيات في الرياض", "Люблю путешествия и фотографию.",
                                 "I build APIs for a living & bake sourdough on weekends.", g.text(1, 2)])
        obj["website"] = g.pick(["https://example.com/~zoe", "https://github.com/example", "https://blog.example.org/about?ref=profile", None])
        obj["location"] = g.pick(CITIES)[0]
        if g.chance(0.3):
            obj["social"] = {"twitter": "@" + g.alnum(8).lower(), "mastodon": "@" + g.alnum(6).lower() + "@mastodon.social"}
        if g.chance(0.3):
            obj["preferences"] = {"newsletter": g.chance(0.5), "timezone": g.pick(TIMEZONES), "language": g.pick(["en", "fr", "de", "zh"])}
        headers_extra = []
        if g.chance(0.15):
            ctype = "application/merge-patch+json"
    elif family == 2:
        path = f"/api/products/{g.int_id()}/reviews"
        obj = {"rating": g.r.randint(1, 5), "title": g.pick(["Great!", "Not bad", "Meh...", "Would buy again", "Don't — it broke after a week",
                                                          "5/5 <3", "Select this one, not the cheaper one", "Très bien"]),
               "body": g.text(1, 4), "author": g.name(), "verified_purchase": g.chance(0.7)}
        if g.chance(0.2):
            obj["pros"] = ["sturdy", "cheap & cheerful", "easy to clean"]
            obj["cons"] = ["no lid", "smaller than expected (< 30 cm)"]
        headers_extra = []
    elif family == 3:
        path = g.pick(["/api/support/tickets", "/v1/tickets", f"/v1/tickets/{g.int_id()}/messages"])
        obj = {"subject": g.pick(["Refund request", "Can't log in", "Order #" + g.int_id() + " missing item",
                                  "Billing question – VAT", "Where's my order?", "Bug: 'Save & continue' fails"]),
               "message": g.text(2, 5) if g.chance(0.85) else g.long_text(),
               "email": g.email(), "priority": g.pick(["low", "normal", "high"])}
        if g.chance(0.15):
            obj["diagnostics"] = {"app_version": "5.4.1", "os": "Android 14", "error": "TypeError: Cannot read properties of undefined (reading 'total')",
                                  "url": "https://shop.example.com/checkout?step=payment&retry=1"}
        if g.chance(0.1):
            content = ("Date,Item,Amount\n2024-03-01,\"Desk, oak\",249.00\n2024-03-02,Lamp,39.90\n").encode()
            obj["attachments"] = [{"filename": "statement.csv", "content_type": "text/csv", "content_base64": base64.b64encode(content).decode()}]
        headers_extra = []
    elif family == 4:
        path = g.pick(["/v1/payments", "/api/payment_intents"])
        obj = {"amount": g.r.randint(100, 250000), "currency": g.pick(CURRENCIES).lower(),
               "payment_method": g.object_id("pm"), "customer": g.object_id("cus"),
               "description": g.pick(["Order #" + g.int_id(), "Subscription – Pro plan (annual)", "Top-up & tip"]),
               "metadata": {"order_id": g.uuid(), "channel": g.pick(["web", "ios", "android"])}}
        if g.chance(0.3):
            obj["billing_details"] = {"name": g.name(), "address": g.address()}
        headers_extra = [("Idempotency-Key", g.uuid())]
    elif family == 5:
        path = g.pick(["/v1/track", "/api/analytics/batch", "/v1/events/batch"])
        events = []
        for _ in range(g.r.randint(1, 6)):
            events.append({"event": g.pick(["Product Viewed", "Order Completed", "Signed In", "Page Viewed", "Search Performed"]),
                           "timestamp": g.iso(), "messageId": g.uuid(), "anonymousId": g.uuid(),
                           "properties": {"url": g.pick(APP_ORIGINS) + g.pick(["/", "/p/" + g.slug(), "/search?q=" + quote_plus(g.pick(SEARCH_QUERIES))]),
                                          "referrer": g.pick(["https://www.google.com/", "", "https://t.co/" + g.alnum(10)]),
                                          "title": g.pick(["Home", "Zoë's Café | Menu", "Cart (3)", "Résultats"]),
                                          "query": g.pick(SEARCH_QUERIES)},
                           "context": {"userAgent": g.pick(BROWSER_UAS), "locale": g.pick(["en-US", "fr-FR", "zh-CN"]),
                                       "ip": f"203.0.113.{g.r.randint(1, 254)}"}})
        obj = {"batch": events, "sentAt": g.iso()}
        headers_extra = []
    elif family == 6:
        path = g.pick([f"/api/chats/{g.uuid()}/messages", f"/v1/conversations/{g.int_id()}/messages"])
        obj = {"text": g.pick(SENTENCES + ["ok 👍", "lol", "see you at 5?", "where or when, your call", "😂😂", "brb",
                                           "Select all & delete? no way", "ما رأيك؟", "好的，没问题", "Давай завтра"]),
               "client_msg_id": g.uuid(), "sent_at": g.iso()}
        if g.chance(0.2):
            obj["reply_to"] = g.uuid()
        headers_extra = []
    elif family == 7:
        path = g.pick(["/auth/login", "/api/v1/session", "/v1/auth/token"])
        pw = g.pick(["correct horse battery staple", "P@ssw0rd!2024", "hunter2", "Tr0ub4dor&3", "s3cr3t-p4ss--word",
                     "O'Brien#1987", "ça-va-très-bien", "1q2w3e4r5t", "my\"quoted\"pass", "<strong>pass</strong>?", "密码安全123"])
        obj = {"username": g.pick([g.email(), g.alnum(8).lower(), "zoe.obrien", "dangelo_m"]), "password": pw}
        if g.chance(0.3):
            obj["remember_me"] = True
        if g.chance(0.2):
            obj["mfa_code"] = f"{g.r.randint(0, 999999):06d}"
        headers_extra = []
    elif family == 8:
        path = "/api/users"
        name = g.name()
        obj = {"name": name, "email": g.email(), "password": g.alnum(14) + "!", "accept_terms": True,
               "marketing_opt_in": g.chance(0.4), "address": g.address(), "birthdate": g.iso(False)}
        headers_extra = []
    elif family == 9:
        path = g.pick(["/v1/products/search", "/api/search"])
        obj = {"query": g.pick(SEARCH_QUERIES), "filters": {"price": {"gte": g.r.randint(0, 50), "lte": g.r.randint(60, 500)},
                                                            "brand": g.r.sample(["Acme", "Zoë & Co", "O'Neill", "Müller", "Union"], 2),
                                                            "in_stock": True},
               "sort": [{"field": g.pick(["created_at", "price", "_score"]), "order": g.pick(["asc", "desc"])}],
               "page": {"size": 24, "from": g.r.randrange(0, 240, 24)}}
        if g.chance(0.4):
            obj = {"query": {"bool": {"must": [{"match": {"title": g.pick(SEARCH_QUERIES)}}],
                                      "filter": [{"term": {"status": g.pick(STATUSES)}}, {"range": {"created_at": {"gte": "now-30d/d"}}}]}},
                   "size": 20, "_source": ["id", "title", "price"]}
        headers_extra = []
    elif family == 10:
        method = g.pick(["PUT", "PATCH"])
        path = f"/v1/stores/{g.int_id()}/products/{g.alnum(8).upper()}"
        name, desc = g.pick(PRODUCTS)
        obj = {"name": name, "description": desc, "price": {"amount": g.price(), "currency": g.pick(CURRENCIES)},
               "stock": g.r.randint(0, 500), "tags": g.r.sample(["sale", "new", "eco", "handmade", "gift", "union-made"], 2),
               "dimensions": {"w": g.r.randint(5, 200), "h": g.r.randint(5, 200), "unit": "cm"},
               "updated_at": g.iso()}
        headers_extra = [("If-Match", f'"{g.hex(20)}"')] if g.chance(0.3) else []
    elif family == 11:
        method = "PATCH"
        path = f"/api/v1/documents/{g.uuid()}"
        ops = [{"op": "replace", "path": "/title", "value": g.pick(["Q1 plan", "Union negotiations — notes", "Select & drop: UI spec"])},
               {"op": "add", "path": "/tags/-", "value": g.pick(TAGS)},
               {"op": "remove", "path": f"/sections/{g.r.randint(0, 5)}"}]
        obj = ops[: g.r.randint(1, 3)]
        ctype = g.pick(["application/json-patch+json", "application/json"])
        headers_extra = []
    elif family == 12:
        path = g.pick(["/webhooks/stripe", "/hooks/payments"])
        client = "webhook"
        obj = {"id": g.object_id("evt"), "object": "event", "api_version": "2024-04-10", "created": 1_710_000_000 + g.r.randrange(10**7),
               "type": g.pick(["payment_intent.succeeded", "charge.refunded", "customer.updated", "invoice.paid"]),
               "data": {"object": {"id": g.object_id("pi"), "amount": g.r.randint(100, 99999), "currency": "eur",
                                   "customer": g.object_id("cus"), "description": "Order #" + g.int_id(),
                                   "metadata": {"note": g.sentence()}}},
               "livemode": False, "pending_webhooks": 1, "request": {"id": "req_" + g.alnum(14), "idempotency_key": g.uuid()}}
        headers_extra = [("Stripe-Signature", f"t={1_710_000_000 + g.r.randrange(10**7)},v1={g.hex(64)}")]
    else:
        path = g.pick(["/api/i18n/strings", f"/v1/projects/{g.int_id()}/translations"])
        obj = {"locale": g.pick(["fr-FR", "de-DE", "zh-CN", "ar-SA", "ru-RU"]),
               "strings": {"cart.items": "{count, plural, one {# article} other {# articles}}",
                           "greeting": "Bonjour <strong>{name}</strong> !",
                           "order.drop_off": "Drop-off at {time} & pick-up at {time2}",
                           "footer": "© 2024 Example & Co. — All rights reserved.",
                           "search.placeholder": "Search by name, e.g. O'Brien"}}
        headers_extra = []
    if client == "webhook":
        headers = [("User-Agent", g.pick(WEBHOOK_UAS)), ("Accept", "*/*; q=0.5, application/xml"), ("Cache-Control", "no-cache")]
    else:
        headers = g.headers(client)
    headers.append(("Content-Type", ctype if client != "webhook" else "application/json; charset=utf-8"))
    headers.extend(headers_extra)
    if family in (0, 6) and g.chance(0.05):
        # JSON:API clients
        headers[-1 - len(headers_extra)] = ("Content-Type", "application/vnd.api+json")
    body = g.json_body(client, obj)
    return req("json", method, path, "", headers, body)


FORUM_INTROS = [
    "I'm trying to figure out why this happens only in production.",
    "Thanks, that fixed it! For anyone finding this later, here's what I changed.",
    "Has anyone seen this before? I've searched the issues but found nothing.",
    "Short answer: it depends on your isolation level.",
    "You can do it without a library; see below.",
    "This works for me on v2.3, not on v2.4.",
    "Quick question about the API rate limits.",
    "Not sure if this is a bug or I'm holding it wrong.",
]
FORUM_PLAIN = [
    "- **Step 1**: open *Settings* → *API keys*\n- **Step 2**: click `Create key`\n- Step 3: copy it somewhere safe",
    "See the [docs](https://docs.example.com/guide#rate-limits) and the [changelog](https://example.com/changelog?version=2.4).",
    "> The request was rejected because it exceeded the limit\n\nThat quote is from the error body. Is 429 the only status we should retry?",
    "Run `npm install --save-dev @example/sdk` and restart the dev server.",
    "1. Select the project\n2. Drop the old webhook\n3. Create a new one pointing to `https://hooks.example.com/in`",
    "Use `ORDER BY created_at DESC` and a `LIMIT` instead of fetching everything.",
    "The `<input>` element needs a `name` attribute, otherwise nothing is submitted.",
    "I think the `where` clause is wrong: `status = 'open'` vs `status IN ('open', 'pending')`.",
    "Edit: the real issue was a trailing slash in the base URL (`/api/` vs `/api`).",
    "Try `git pull --rebase` then `git push`; the hook rejects merge commits.",
]
CODE_BLOCKS = [
    ("python", "import requests\n\nresp = requests.get(\"https://api.example.com/v1/orders\", params={\"status\": \"open\"}, timeout=10)\nresp.raise_for_status()\nfor order in resp.json()[\"data\"]:\n    print(order[\"id\"], order[\"total\"])"),
    ("js", "const res = await fetch('/api/v1/items?page=2', {\n  headers: { 'Accept': 'application/json' },\n});\nif (!res.ok) throw new Error(`HTTP ${res.status}`);\nconst items = await res.json();"),
    ("ts", "export function total(items: Item[]): number {\n  return items.reduce((sum, i) => sum + i.qty * i.price, 0);\n}"),
    ("rust", "let client = reqwest::Client::new();\nlet resp = client.post(url).json(&body).send().await?;\nprintln!(\"{}\", resp.status());"),
    ("go", "resp, err := http.Get(\"https://api.example.com/v1/health\")\nif err != nil {\n\tlog.Fatal(err)\n}\ndefer resp.Body.Close()"),
    ("yaml", "services:\n  api:\n    image: example/api:2.4\n    environment:\n      - DATABASE_URL=postgres://app@db:5432/app\n    ports:\n      - \"8080:8080\""),
    ("css", ".card > img {\n  max-width: 100%;\n  border-radius: 4px;\n}\n.card:hover { box-shadow: 0 2px 8px rgba(0,0,0,.2); }"),
    ("json", "{\n  \"error\": {\n    \"code\": \"rate_limited\",\n    \"message\": \"Too many requests, retry after 30s\"\n  }\n}"),
    ("sql", "SELECT o.id, o.total, c.name\nFROM orders o\nJOIN customers c ON c.id = o.customer_id\nWHERE o.created_at > '2024-01-01'\nORDER BY o.total DESC\nLIMIT 20;"),
    ("sql", "UPDATE accounts SET balance = balance - 10 WHERE id = 42;\nSELECT * FROM accounts WHERE id = 42 FOR UPDATE;"),
    ("sql", "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id, created_at DESC);"),
    ("html", "<form action=\"/login\" method=\"post\">\n  <label for=\"user\">User</label>\n  <input type=\"text\" id=\"user\" name=\"user\">\n  <button type=\"submit\">Sign in</button>\n</form>"),
    ("html", "<div class=\"card\">\n  <img src=\"/static/logo.png\" alt=\"Logo\" width=\"120\">\n  <p>Welcome back, <span id=\"name\"></span>!</p>\n</div>"),
    ("bash", "curl -s -X POST https://api.example.com/v1/items \\\n  -H 'Content-Type: application/json' \\\n  -H \"Authorization: Bearer $TOKEN\" \\\n  -d '{\"name\": \"test\"}' | jq ."),
    ("bash", "for f in *.csv; do\n  echo \"importing $f\"\n  psql \"$DATABASE_URL\" -c \"\\copy staging FROM '$f' CSV HEADER\"\ndone"),
]


def gen_forum(g):
    client = "browser" if g.chance(0.8) else "sdk"
    parts = [g.pick(FORUM_INTROS)]
    if g.chance(0.35):
        lang, code = g.pick(CODE_BLOCKS)
        parts.append(f"```{lang}\n{code}\n```")
        if g.chance(0.5):
            parts.append(g.pick(FORUM_PLAIN))
    else:
        for _ in range(g.r.randint(1, 2)):
            parts.append(g.pick(FORUM_PLAIN))
    if g.chance(0.3):
        parts.append(g.pick(["Thanks in advance!", "Cheers,\nZoë", "Any help appreciated 🙏", "EDIT: solved, see below."]))
    body_md = "\n\n".join(parts)
    if g.chance(0.6):
        path = f"/api/forum/threads/{g.int_id()}/posts"
        obj = {"body_markdown": body_md, "tags": g.r.sample(TAGS, g.r.randint(1, 3))}
        method = "POST"
    else:
        path = f"/api/v2/questions/{g.int_id()}/answers" if g.chance(0.5) else f"/api/v2/answers/{g.int_id()}"
        method = "POST" if path.endswith("answers") else "PUT"
        obj = {"body": body_md, "notify_author": g.chance(0.5)}
    if g.chance(0.3):
        obj["title"] = g.pick(["Deadlock on concurrent updates", "Form not submitting", "401 after token refresh",
                               "How to paginate with cursors?", "Select vs. join performance", "Webhook retries"])
    headers = g.headers(client)
    headers.append(("Content-Type", "application/json"))
    return req("forum", method, path, "", headers, g.json_body(client, obj))


RICH_HTML = [
    "<p>Welcome to <strong>Zoë's Café</strong> &amp; bakery.</p><ul><li>Fresh bread daily</li><li>Vegan options</li></ul>",
    "<p><a href=\"https://example.com/menu\" target=\"_blank\" rel=\"noopener\">See the menu</a> or call us.</p>",
    "<h2>Opening hours</h2><p>Mon&ndash;Fri 8:00&ndash;18:00<br>Sat 9:00&ndash;14:00</p>",
    "<p><img src=\"https://cdn.example.com/img/logo.png\" alt=\"Logo\" width=\"120\" height=\"40\"></p>",
    "<blockquote><p>&ldquo;Best coffee in town&rdquo; &mdash; <em>The Irish Times</em></p></blockquote>",
    "<p>Union members: show your card for <strong>10%</strong> off. Select items only.</p>",
    "<table><thead><tr><th>Size</th><th>Price</th></tr></thead><tbody><tr><td>S</td><td>&euro;3.20</td></tr><tr><td>L</td><td>&euro;4.10</td></tr></tbody></table>",
    "<p style=\"text-align: center;\"><span style=\"color: #e03e2d;\">Sale ends Friday!</span></p>",
    "<ol><li>Preheat the oven to 200&nbsp;&deg;C</li><li>Drop the dough onto the tray</li></ol>",
    "<p>Contact: <a href=\"mailto:hello@example.com?subject=Question\">hello@example.com</a></p>",
    "<p dir=\"rtl\">مرحبا بكم في متجرنا</p><p lang=\"zh\">欢迎光临</p>",
    "<figure><img src=\"/uploads/2024/03/shop-front.jpg\" alt=\"Our shop on O'Connell Street\"><figcaption>Our new shop</figcaption></figure>",
    "<p>Use code <code>SPRING24</code> at checkout.</p><hr><p><small>Terms &amp; conditions apply.</small></p>",
]


def gen_rich_text(g):
    client = "browser"
    html = "".join(g.r.sample(RICH_HTML, g.r.randint(1, 4)))
    family = g.r.randrange(3)
    if family == 0:
        path, method = f"/api/cms/pages/{g.int_id()}", "PUT"
        obj = {"title": g.pick(["About us", "Opening hours", "Menu", "Spring sale", "À propos"]), "body_html": html,
               "status": g.pick(["draft", "published"]), "updated_at": g.iso()}
    elif family == 1:
        path, method = "/api/v1/newsletters", "POST"
        obj = {"subject": g.pick(["Our spring sale starts now 🌷", "New in: Zoë's granola", "Union Square pop-up this Saturday"]),
               "html": "<html><body>" + html + "</body></html>", "text": g.text(1, 3), "segment": g.pick(["all", "vip", "eu"])}
    else:
        path, method = f"/v1/products/{g.int_id()}/description", "PATCH"
        obj = {"description_html": html, "locale": g.pick(["en-IE", "fr-FR", "de-DE"])}
    headers = g.headers(client)
    headers.append(("Content-Type", "application/json"))
    return req("rich-text", method, path, "", headers, g.json_body(client, obj))


GRAPHQL_OPS = [
    ("GetOrder", "query GetOrder($id: ID!) {\n  order(id: $id) {\n    id\n    status\n    total { amount currency }\n    items { sku name qty }\n  }\n}",
     lambda g: {"id": g.uuid()}),
    ("ListProducts", "query ListProducts($first: Int!, $after: String, $filter: ProductFilter) {\n  products(first: $first, after: $after, filter: $filter) {\n    edges { node { id name price } }\n    pageInfo { hasNextPage endCursor }\n  }\n}",
     lambda g: {"first": 20, "after": g.b64(12), "filter": {"search": g.pick(SEARCH_QUERIES), "inStock": True}}),
    ("UpdateProfile", "mutation UpdateProfile($input: ProfileInput!) {\n  updateProfile(input: $input) {\n    id\n    displayName\n    bio\n  }\n}",
     lambda g: {"input": {"displayName": g.name(), "bio": g.sentence()}}),
    ("AddComment", "mutation AddComment($postId: ID!, $body: String!) {\n  addComment(postId: $postId, body: $body) { id createdAt }\n}",
     lambda g: {"postId": g.uuid(), "body": g.text(1, 2)}),
    ("Viewer", "query Viewer { viewer { id login email organizations(first: 5) { nodes { name } } } }", lambda g: {}),
    ("DeleteItem", "mutation DeleteItem($id: ID!) { deleteCartItem(id: $id) { cart { id itemCount } } }",
     lambda g: {"id": g.uuid()}),
]


def gen_graphql(g):
    client = g.client()
    op, query, variables = g.pick(GRAPHQL_OPS)
    obj = {"operationName": op, "query": query, "variables": variables(g)}
    headers = g.headers(client)
    headers.append(("Content-Type", "application/json"))
    return req("graphql", "POST", g.pick(["/graphql", "/api/graphql"]), "", headers, g.json_body(client, obj))


def gen_form(g):
    client = "browser" if g.chance(0.7) else "sdk"
    family = g.r.randrange(9)
    if family == 0:
        path = g.pick(["/login", "/account/login", "/wp-login.php"]) if g.chance(0.1) else g.pick(["/login", "/account/login"])
        fields = [("csrf_token", g.b64(32, urlsafe=True, pad=False)), ("username", g.pick([g.email(), "zoe.obrien", "jose_alvarez"])),
                  ("password", g.pick(["P@ssw0rd!2024", "correct horse battery staple", "O'Brien#1987", "Tr0ub4dor&3", "--secret--", "a;b=c&d"]))]
        if g.chance(0.5):
            fields.append(("remember_me", "on"))
    elif family == 1:
        path = g.pick(["/contact", "/api/contact", "/support/request"])
        fields = [("name", g.name()), ("email", g.email()), ("subject", g.pick(["Question about my order", "Partnership", "Feedback", "Réclamation"])),
                  ("message", g.text(2, 5) if g.chance(0.9) else g.long_text())]
    elif family == 2:
        path = "/oauth2/token"
        client = "sdk"
        fields = g.pick([
            [("grant_type", "authorization_code"), ("code", g.alnum(40)), ("redirect_uri", "https://app.example.com/cb"),
             ("client_id", g.alnum(26).lower()), ("code_verifier", g.b64(32, urlsafe=True, pad=False))],
            [("grant_type", "refresh_token"), ("refresh_token", g.b64(48, urlsafe=True, pad=False)), ("client_id", g.alnum(26).lower())],
            [("grant_type", "client_credentials"), ("scope", "orders:read orders:write")],
        ])
    elif family == 3:
        path = "/checkout/address"
        addr = g.address()
        fields = [("full_name", g.name()), ("line1", addr["line1"]), ("line2", addr.get("line2", "")), ("city", addr["city"]),
                  ("postal_code", addr["postal_code"]), ("country", addr["country"]), ("phone", g.phone()),
                  ("delivery_instructions", g.sentence())]
    elif family == 4:
        path = "/newsletter/subscribe"
        fields = [("email", g.email()), ("lists[]", "weekly"), ("lists[]", g.pick(["offers", "events"])), ("consent", "yes"),
                  ("source", g.pick(["footer", "popup", "checkout"]))]
    elif family == 5:
        path = g.pick(["/search", "/s"])
        fields = [("q", g.pick(SEARCH_QUERIES)), ("category", g.pick(["all", "books", "home & garden", "électronique"]))]
    elif family == 6:
        path = f"/blog/{g.slug()}/comments"
        fields = [("author", g.name()), ("email", g.email()), ("url", g.pick(["", "https://example.org/~me", "https://blog.example.com/?p=42"])),
                  ("comment", g.text(1, 4)), ("comment_post_ID", g.int_id())]
    elif family == 7:
        path = "/slack/commands"
        client = "webhook"
        fields = [("token", g.alnum(24)), ("team_id", "T" + g.alnum(8).upper()), ("team_domain", "example"),
                  ("channel_name", g.pick(["general", "ops", "sales-emea"])), ("user_name", g.pick(["zoe", "jose", "sean.obrien"])),
                  ("command", g.pick(["/weather", "/deploy", "/standup", "/lunch"])),
                  ("text", g.pick(["94070", "api to prod", "yesterday: fixed the union query; today: drop-off tests", "where or when?", "tacos & burritos"])),
                  ("response_url", f"https://hooks.slack.com/commands/T{g.alnum(8).upper()}/{g.r.randint(10**11, 10**12)}/{g.alnum(24)}"),
                  ("trigger_id", f"{g.r.randint(10**11, 10**12)}.{g.r.randint(10**11, 10**12)}.{g.hex(32)}")]
    else:
        path = "/twilio/sms"
        client = "webhook"
        fields = [("ToCountry", "IE"), ("SmsMessageSid", "SM" + g.hex(32)), ("NumMedia", "0"), ("Body", g.pick(SENTENCES)),
                  ("From", "+3538" + str(g.r.randint(10**7, 10**8))), ("To", "+3531" + str(g.r.randint(10**6, 10**7))),
                  ("AccountSid", "AC" + g.hex(32)), ("ApiVersion", "2010-04-01")]
    if client == "webhook":
        headers = [("User-Agent", g.pick(WEBHOOK_UAS)), ("Accept", "*/*")]
        if path == "/twilio/sms":
            headers.append(("X-Twilio-Signature", g.b64(20)))
        else:
            headers.append(("X-Slack-Signature", "v0=" + g.hex(64)))
            headers.append(("X-Slack-Request-Timestamp", str(1_710_000_000 + g.r.randrange(10**7))))
    else:
        headers = g.headers(client, accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", auth=False)
    headers.append(("Content-Type", g.pick(["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8"])))
    return req("form", "POST", path, "", headers, urlencode(fields))


def tiny_png(g):
    # A valid-looking PNG signature and IHDR, then random "compressed" bytes.
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
    return head + bytes(g.r.getrandbits(8) for _ in range(g.r.randint(60, 400))) + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def gen_multipart(g):
    client = g.client()
    if client == "browser":
        boundary = "----WebKitFormBoundary" + g.alnum(16)
    elif client == "sdk":
        boundary = g.pick([g.hex(32), "------------------------" + g.hex(16)])
    else:
        boundary = g.uuid()
    parts = []

    def field(name, value):
        parts.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n")

    def file(name, filename, ctype, content):
        parts.append(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
                     + content + b"\r\n")

    family = g.r.randrange(5)
    if family == 0:
        path = g.pick(["/api/v1/uploads", f"/api/tickets/{g.int_id()}/attachments"])
        field("description", g.pick(["Screenshot of the error", "Invoice for March", "Notes from the union meeting", "Plan B — select one", g.sentence()]))
        lines = [g.sentence() for _ in range(g.r.randint(2, 8))]
        file("file", g.pick(["notes.txt", "todo.txt", "meeting-notes.md", "Protokoll März.txt"]), "text/plain", ("\n".join(lines) + "\n").encode())
    elif family == 1:
        path = "/api/v1/imports/contacts"
        rows = ["name,email,city,notes"]
        for _ in range(g.r.randint(3, 10)):
            n = g.name()
            rows.append(f'"{n}",{g.email()},{g.pick(CITIES)[0]},"{g.pick(SENTENCES).replace(chr(34), chr(34) * 2)}"')
        field("list_id", g.int_id())
        file("file", g.pick(["contacts.csv", "export (2).csv", "kunden.csv"]), "text/csv", ("\r\n".join(rows) + "\r\n").encode())
    elif family == 2:
        path = "/api/users/me/avatar"
        file("avatar", g.pick(["me.png", "avatar.png", "photo.png"]), "image/png", tiny_png(g))
    elif family == 3:
        path = f"/api/projects/{g.int_id()}/files"
        field("path", g.pick(["docs/README.md", "config/app.yaml", "src/data.json"]))
        content = g.pick([
            "# Project\n\nRun `make test` before pushing.\n\n| env | url |\n|---|---|\n| dev | http://localhost:8080 |\n",
            "server:\n  port: 8080\n  base_url: \"https://api.example.com/v1\"\nfeatures:\n  - select_plan\n  - drop_shipping\n",
            json.dumps({"items": [{"id": 1, "name": "O'Brien's pub"}, {"id": 2, "name": "Café <Zoë>"}]}, ensure_ascii=False, indent=2) + "\n",
        ])
        file("file", "upload.bin" if g.chance(0.1) else "file", "application/octet-stream" if g.chance(0.3) else "text/plain", content.encode())
    else:
        path = "/api/v1/receipts"
        field("merchant", g.pick(["Tesco", "Carrefour", "Müller Drogerie", "O'Brien's Sandwich Bar", "全家便利店"]))
        field("amount", f"{g.price():.2f}")
        field("currency", g.pick(CURRENCIES))
        field("date", g.iso(False))
        file("receipt", "receipt.png", "image/png", tiny_png(g))
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p for p in parts) + b"--" + boundary.encode() + b"--\r\n"
    headers = g.headers(client)
    headers.append(("Content-Type", f"multipart/form-data; boundary={boundary}"))
    return req("multipart", "POST", path, "", headers, body)


def xml_text(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def gen_xml(g):
    client = "sdk" if g.chance(0.8) else "browser"
    family = g.r.randrange(4)
    extra = []
    name = g.name()
    addr = g.address()
    if family == 0:
        path = g.pick(["/soap/OrderService", "/services/OrderService.asmx"])
        ctype = "text/xml; charset=utf-8"
        extra.append(("SOAPAction", '"urn:example:orders#CreateOrder"'))
        items = "".join(f"<ord:item><ord:sku>{g.alnum(8).upper()}</ord:sku><ord:qty>{g.r.randint(1, 5)}</ord:qty>"
                        f"<ord:price currency=\"EUR\">{g.price():.2f}</ord:price></ord:item>" for _ in range(g.r.randint(1, 3)))
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ord="urn:example:orders">\n'
                f'  <soapenv:Header><ord:auth><ord:token>{g.b64(24)}</ord:token></ord:auth></soapenv:Header>\n'
                f'  <soapenv:Body><ord:CreateOrder><ord:customer>{xml_text(name)}</ord:customer>'
                f'<ord:street>{xml_text(addr["line1"])}</ord:street><ord:city>{xml_text(addr["city"])}</ord:city>'
                f'{items}<ord:note>{xml_text(g.sentence())}</ord:note></ord:CreateOrder></soapenv:Body>\n'
                '</soapenv:Envelope>\n')
    elif family == 1:
        path = g.pick(["/api/invoices", "/v1/einvoice/submit"])
        ctype = g.pick(["application/xml", "application/xml; charset=utf-8", "text/xml"])
        lines = "".join(f'<line no="{i + 1}"><desc>{xml_text(g.pick(PRODUCTS)[0])}</desc><qty>{g.r.randint(1, 9)}</qty>'
                        f"<unit_price>{g.price():.2f}</unit_price></line>" for i in range(g.r.randint(1, 5)))
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<invoice xmlns="urn:example:invoice:1.0" issued="{g.iso(False)}">'
                f"<number>INV-{g.r.randint(2023, 2025)}-{g.r.randint(1, 9999):04d}</number>"
                f"<buyer><name>{xml_text(name)}</name><vat>IE{g.r.randint(1000000, 9999999)}T</vat>"
                f"<address>{xml_text(addr['line1'])}, {xml_text(addr['city'])}</address></buyer>"
                f"<lines>{lines}</lines><notes>{xml_text(g.sentence())}</notes></invoice>\n")
    elif family == 2:
        path = "/xmlrpc"
        ctype = "text/xml"
        body = ('<?xml version="1.0"?>\n<methodCall><methodName>metaWeblog.newPost</methodName><params>'
                f"<param><value><string>{g.int_id()}</string></value></param>"
                f"<param><value><string>{g.alnum(8).lower()}</string></value></param>"
                "<param><value><struct>"
                f"<member><name>title</name><value><string>{xml_text(g.pick(['Spring menu', 'Union Square pop-up', 'Où manger à Paris']))}</string></value></member>"
                f"<member><name>description</name><value><string>{xml_text(g.text(1, 3))}</string></value></member>"
                "</struct></value></param></params></methodCall>\n")
    else:
        path = g.pick(["/api/v1/shipments", "/v1/edi/shipments"])
        ctype = "application/xml"
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<shipment id="{g.uuid()}"><carrier>{g.pick(["DHL", "An Post", "UPS", "La Poste"])}</carrier>'
                f"<tracking>{g.alnum(12).upper()}</tracking><recipient><name>{xml_text(name)}</name>"
                f"<street>{xml_text(addr['line1'])}</street><postcode>{xml_text(addr['postal_code'])}</postcode>"
                f"<country>{addr['country']}</country></recipient><instructions><![CDATA[{g.sentence()}]]></instructions>"
                f"<weight unit=\"kg\">{g.r.uniform(0.1, 30):.2f}</weight><shipped_at>{g.iso()}</shipped_at></shipment>\n")
    headers = g.headers(client, accept="application/xml")
    headers.append(("Content-Type", ctype))
    headers.extend(extra)
    return req("xml", "POST", path, "", headers, body)


def gen_binary(g):
    client = g.client()
    family = g.r.randrange(3)
    if family == 0:
        path, method, ctype = f"/v1/files/{g.uuid()}/content", "PUT", "application/octet-stream"
        body = bytes(g.r.getrandbits(8) for _ in range(g.r.randint(200, 1200)))
    elif family == 1:
        path, method, ctype = "/api/users/me/avatar", "PUT", g.pick(["image/png", "application/octet-stream"])
        body = tiny_png(g)
    else:
        path, method, ctype = f"/v1/documents/{g.uuid()}/raw", "PUT", "application/octet-stream"
        body = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                + bytes(g.r.getrandbits(8) for _ in range(g.r.randint(200, 1200))) + b"\n%%EOF\n")
    headers = g.headers(client)
    headers.append(("Content-Type", ctype))
    return req("binary", method, path, "", headers, body)


KINDS = [
    (gen_get, 30), (gen_json, 30), (gen_form, 9), (gen_multipart, 5), (gen_xml, 5), (gen_delete, 5),
    (gen_forum, 5), (gen_rich_text, 3), (gen_graphql, 5), (gen_binary, 3),
]


def generate(count, seed=SEED):
    g = Gen(seed)
    funcs = [f for f, _ in KINDS]
    weights = [w for _, w in KINDS]
    for i in range(1, count + 1):
        f = g.r.choices(funcs, weights)[0]
        r = f(g)
        out = {"id": f"legit-{i:05d}"}
        out.update(r)
        yield out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output file, '-' for stdout")
    args = ap.parse_args()
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in generate(args.count, args.seed)]
    text = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print(f"wrote {len(lines)} requests, {len(text.encode())} bytes to {os.path.relpath(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
