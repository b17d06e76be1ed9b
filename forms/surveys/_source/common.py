"""Choice lists both surveys share: answers, regions and provinces, countries, languages."""

from __future__ import annotations

from forms.surveys._source.dsl import C, T, choices

OTHER = T("Diğer", "Other", "أخرى")
NONE = T("Hiçbiri", "None", "لا شيء")
YES = T("Evet", "Yes", "نعم")
NO = T("Hayır", "No", "لا")
REFUSED = T("Yanıt vermek istemiyor", "Prefers not to answer", "يفضّل عدم الإجابة")
DONT_KNOW = T("Bilmiyor", "Does not know", "لا يعرف")

YES_NO = choices("yes_no", ("yes", YES), ("no", NO))
YES_NO_REFUSED = choices("yes_no_refused", ("yes", YES), ("no", NO), ("refused", REFUSED))
YES_NO_UNKNOWN = choices("yes_no_unknown", ("yes", YES), ("no", NO), ("dont_know", DONT_KNOW))

REGIONS = choices(
    "region",
    ("marmara", T("Marmara Bölgesi", "Marmara Region", "منطقة مرمرة")),
    ("ege", T("Ege Bölgesi", "Aegean Region", "منطقة بحر إيجة")),
    ("akdeniz", T("Akdeniz Bölgesi", "Mediterranean Region", "منطقة البحر المتوسط")),
    ("ic_anadolu", T("İç Anadolu Bölgesi", "Central Anatolia Region", "منطقة وسط الأناضول")),
    ("karadeniz", T("Karadeniz Bölgesi", "Black Sea Region", "منطقة البحر الأسود")),
    ("dogu_anadolu", T("Doğu Anadolu Bölgesi", "Eastern Anatolia Region", "منطقة شرق الأناضول")),
    (
        "guneydogu_anadolu",
        T("Güneydoğu Anadolu Bölgesi", "Southeastern Anatolia Region", "منطقة جنوب شرق الأناضول"),
    ),
)

# The 81 provinces of Türkiye: (plate code, choice name, Turkish and English name, Arabic name,
# geographical region). The English label keeps the official Turkish spelling.
_PROVINCES = (
    ("01", "adana", "Adana", "أضنة", "akdeniz"),
    ("02", "adiyaman", "Adıyaman", "أديامان", "guneydogu_anadolu"),
    ("03", "afyonkarahisar", "Afyonkarahisar", "أفيون قره حصار", "ege"),
    ("04", "agri", "Ağrı", "آغري", "dogu_anadolu"),
    ("05", "amasya", "Amasya", "أماسيا", "karadeniz"),
    ("06", "ankara", "Ankara", "أنقرة", "ic_anadolu"),
    ("07", "antalya", "Antalya", "أنطاليا", "akdeniz"),
    ("08", "artvin", "Artvin", "أرتفين", "karadeniz"),
    ("09", "aydin", "Aydın", "آيدن", "ege"),
    ("10", "balikesir", "Balıkesir", "باليكسير", "marmara"),
    ("11", "bilecik", "Bilecik", "بيلجيك", "marmara"),
    ("12", "bingol", "Bingöl", "بينغول", "dogu_anadolu"),
    ("13", "bitlis", "Bitlis", "بيتليس", "dogu_anadolu"),
    ("14", "bolu", "Bolu", "بولو", "karadeniz"),
    ("15", "burdur", "Burdur", "بوردور", "akdeniz"),
    ("16", "bursa", "Bursa", "بورصة", "marmara"),
    ("17", "canakkale", "Çanakkale", "جناق قلعة", "marmara"),
    ("18", "cankiri", "Çankırı", "تشانقري", "ic_anadolu"),
    ("19", "corum", "Çorum", "تشوروم", "karadeniz"),
    ("20", "denizli", "Denizli", "دنيزلي", "ege"),
    ("21", "diyarbakir", "Diyarbakır", "ديار بكر", "guneydogu_anadolu"),
    ("22", "edirne", "Edirne", "أدرنة", "marmara"),
    ("23", "elazig", "Elazığ", "ألازيغ", "dogu_anadolu"),
    ("24", "erzincan", "Erzincan", "أرزنجان", "dogu_anadolu"),
    ("25", "erzurum", "Erzurum", "أرضروم", "dogu_anadolu"),
    ("26", "eskisehir", "Eskişehir", "إسكي شهير", "ic_anadolu"),
    ("27", "gaziantep", "Gaziantep", "غازي عنتاب", "guneydogu_anadolu"),
    ("28", "giresun", "Giresun", "غيرسون", "karadeniz"),
    ("29", "gumushane", "Gümüşhane", "غوموش هانه", "karadeniz"),
    ("30", "hakkari", "Hakkâri", "هكاري", "dogu_anadolu"),
    ("31", "hatay", "Hatay", "هاتاي", "akdeniz"),
    ("32", "isparta", "Isparta", "إسبرطة", "akdeniz"),
    ("33", "mersin", "Mersin", "مرسين", "akdeniz"),
    ("34", "istanbul", "İstanbul", "إسطنبول", "marmara"),
    ("35", "izmir", "İzmir", "إزمير", "ege"),
    ("36", "kars", "Kars", "قارص", "dogu_anadolu"),
    ("37", "kastamonu", "Kastamonu", "قسطموني", "karadeniz"),
    ("38", "kayseri", "Kayseri", "قيصري", "ic_anadolu"),
    ("39", "kirklareli", "Kırklareli", "قرقلار إيلي", "marmara"),
    ("40", "kirsehir", "Kırşehir", "قيرشهير", "ic_anadolu"),
    ("41", "kocaeli", "Kocaeli", "قوجه إيلي", "marmara"),
    ("42", "konya", "Konya", "قونية", "ic_anadolu"),
    ("43", "kutahya", "Kütahya", "كوتاهيا", "ege"),
    ("44", "malatya", "Malatya", "ملاطية", "dogu_anadolu"),
    ("45", "manisa", "Manisa", "مانيسا", "ege"),
    ("46", "kahramanmaras", "Kahramanmaraş", "كهرمان مرعش", "akdeniz"),
    ("47", "mardin", "Mardin", "ماردين", "guneydogu_anadolu"),
    ("48", "mugla", "Muğla", "موغلا", "ege"),
    ("49", "mus", "Muş", "موش", "dogu_anadolu"),
    ("50", "nevsehir", "Nevşehir", "نوشهير", "ic_anadolu"),
    ("51", "nigde", "Niğde", "نيغده", "ic_anadolu"),
    ("52", "ordu", "Ordu", "أوردو", "karadeniz"),
    ("53", "rize", "Rize", "ريزه", "karadeniz"),
    ("54", "sakarya", "Sakarya", "صقاريا", "marmara"),
    ("55", "samsun", "Samsun", "سامسون", "karadeniz"),
    ("56", "siirt", "Siirt", "سعرت", "guneydogu_anadolu"),
    ("57", "sinop", "Sinop", "سينوب", "karadeniz"),
    ("58", "sivas", "Sivas", "سيواس", "ic_anadolu"),
    ("59", "tekirdag", "Tekirdağ", "تكيرداغ", "marmara"),
    ("60", "tokat", "Tokat", "توقات", "karadeniz"),
    ("61", "trabzon", "Trabzon", "طرابزون", "karadeniz"),
    ("62", "tunceli", "Tunceli", "تونجلي", "dogu_anadolu"),
    ("63", "sanliurfa", "Şanlıurfa", "شانلي أورفا", "guneydogu_anadolu"),
    ("64", "usak", "Uşak", "أوشاك", "ege"),
    ("65", "van", "Van", "وان", "dogu_anadolu"),
    ("66", "yozgat", "Yozgat", "يوزغات", "ic_anadolu"),
    ("67", "zonguldak", "Zonguldak", "زونغولداك", "karadeniz"),
    ("68", "aksaray", "Aksaray", "أق سراي", "ic_anadolu"),
    ("69", "bayburt", "Bayburt", "بايبورت", "karadeniz"),
    ("70", "karaman", "Karaman", "قرمان", "ic_anadolu"),
    ("71", "kirikkale", "Kırıkkale", "قريق قلعة", "ic_anadolu"),
    ("72", "batman", "Batman", "باطمان", "guneydogu_anadolu"),
    ("73", "sirnak", "Şırnak", "شرناق", "guneydogu_anadolu"),
    ("74", "bartin", "Bartın", "بارطن", "karadeniz"),
    ("75", "ardahan", "Ardahan", "أردهان", "dogu_anadolu"),
    ("76", "igdir", "Iğdır", "إغدير", "dogu_anadolu"),
    ("77", "yalova", "Yalova", "يالوفا", "marmara"),
    ("78", "karabuk", "Karabük", "كارابوك", "karadeniz"),
    ("79", "kilis", "Kilis", "كلس", "guneydogu_anadolu"),
    ("80", "osmaniye", "Osmaniye", "عثمانية", "akdeniz"),
    ("81", "duzce", "Düzce", "دوزجه", "karadeniz"),
)
PROVINCES = [
    C("province", name, T(tr, tr, ar), {"region": region, "plate": plate})
    for plate, name, tr, ar, region in _PROVINCES
]

# Countries of origin, transit and destination true to mixed-migration flows through
# Türkiye. Flags: o = country of origin, t = transit country, d = destination, n = nationality.
_COUNTRIES = (
    ("syr", "Suriye", "Syria", "سوريا", "otn"),
    ("afg", "Afganistan", "Afghanistan", "أفغانستان", "otn"),
    ("irq", "Irak", "Iraq", "العراق", "otn"),
    ("irn", "İran", "Iran", "إيران", "otn"),
    ("pak", "Pakistan", "Pakistan", "باكستان", "otn"),
    ("som", "Somali", "Somalia", "الصومال", "on"),
    ("bgd", "Bangladeş", "Bangladesh", "بنغلاديش", "on"),
    ("uzb", "Özbekistan", "Uzbekistan", "أوزبكستان", "on"),
    ("tkm", "Türkmenistan", "Turkmenistan", "تركمانستان", "on"),
    ("kgz", "Kırgızistan", "Kyrgyzstan", "قيرغيزستان", "on"),
    ("tjk", "Tacikistan", "Tajikistan", "طاجيكستان", "on"),
    ("pse", "Filistin", "Palestine", "فلسطين", "on"),
    ("yem", "Yemen", "Yemen", "اليمن", "on"),
    ("sdn", "Sudan", "Sudan", "السودان", "otn"),
    ("eri", "Eritre", "Eritrea", "إريتريا", "otn"),
    ("eth", "Etiyopya", "Ethiopia", "إثيوبيا", "otn"),
    ("egy", "Mısır", "Egypt", "مصر", "otn"),
    ("lby", "Libya", "Libya", "ليبيا", "otn"),
    ("dza", "Cezayir", "Algeria", "الجزائر", "otn"),
    ("mar", "Fas", "Morocco", "المغرب", "otn"),
    ("tun", "Tunus", "Tunisia", "تونس", "otn"),
    ("lbn", "Lübnan", "Lebanon", "لبنان", "otn"),
    ("jor", "Ürdün", "Jordan", "الأردن", "otn"),
    ("nga", "Nijerya", "Nigeria", "نيجيريا", "on"),
    ("cod", "Kongo Demokratik Cumhuriyeti", "Democratic Republic of the Congo",
     "جمهورية الكونغو الديمقراطية", "on"),
    ("gin", "Gine", "Guinea", "غينيا", "on"),
    ("cmr", "Kamerun", "Cameroon", "الكاميرون", "on"),
    ("civ", "Fildişi Sahili", "Côte d'Ivoire", "كوت ديفوار", "on"),
    ("sen", "Senegal", "Senegal", "السنغال", "on"),
    ("geo", "Gürcistan", "Georgia", "جورجيا", "otdn"),
    ("aze", "Azerbaycan", "Azerbaijan", "أذربيجان", "otn"),
    ("arm", "Ermenistan", "Armenia", "أرمينيا", "tn"),
    ("ukr", "Ukrayna", "Ukraine", "أوكرانيا", "odn"),
    ("rus", "Rusya Federasyonu", "Russian Federation", "الاتحاد الروسي", "otdn"),
    ("grc", "Yunanistan", "Greece", "اليونان", "td"),
    ("bgr", "Bulgaristan", "Bulgaria", "بلغاريا", "td"),
    ("deu", "Almanya", "Germany", "ألمانيا", "d"),
    ("nld", "Hollanda", "Netherlands", "هولندا", "d"),
    ("fra", "Fransa", "France", "فرنسا", "d"),
    ("swe", "İsveç", "Sweden", "السويد", "d"),
    ("gbr", "Birleşik Krallık", "United Kingdom", "المملكة المتحدة", "d"),
    ("eu_other", "Diğer bir AB ülkesi", "Another EU member state",
     "دولة أخرى عضو في الاتحاد الأوروبي", "d"),
    ("stateless", "Vatansız", "Stateless", "عديم الجنسية", "n"),
    ("other", "Diğer", "Other", "أخرى", "otdn"),
)  # fmt: skip
_ROLES = (("o", "origin"), ("t", "transit"), ("d", "destination"), ("n", "nationality"))
COUNTRIES = [
    C(
        "country",
        name,
        T(tr, en, ar),
        {f"is_{role}": ("1" if flag in flags else "0") for flag, role in _ROLES},
    )
    for name, tr, en, ar, flags in _COUNTRIES
]

LANGUAGES_SPOKEN = choices(
    "language",
    ("turkish", T("Türkçe", "Turkish", "التركية")),
    ("arabic", T("Arapça", "Arabic", "العربية")),
    ("persian", T("Farsça", "Persian (Farsi)", "الفارسية")),
    ("dari", T("Darice", "Dari", "الدارية")),
    ("pashto", T("Peştuca", "Pashto", "البشتوية")),
    ("urdu", T("Urduca", "Urdu", "الأردية")),
    ("kurmanji", T("Kürtçe (Kurmanci)", "Kurdish (Kurmanji)", "الكردية (الكرمانجية)")),
    ("sorani", T("Kürtçe (Sorani)", "Kurdish (Sorani)", "الكردية (السورانية)")),
    ("somali", T("Somalice", "Somali", "الصومالية")),
    ("tigrinya", T("Tigrinya dili", "Tigrinya", "التغرينية")),
    ("uzbek", T("Özbekçe", "Uzbek", "الأوزبكية")),
    ("turkmen", T("Türkmence", "Turkmen", "التركمانية")),
    ("russian", T("Rusça", "Russian", "الروسية")),
    ("english", T("İngilizce", "English", "الإنجليزية")),
    ("french", T("Fransızca", "French", "الفرنسية")),
    ("other", OTHER),
)

SEX = choices(
    "sex",
    ("female", T("Kadın", "Female", "أنثى")),
    ("male", T("Erkek", "Male", "ذكر")),
    ("not_stated", T("Belirtilmedi", "Not stated", "غير مذكور")),
)

NONE_ALONE = T(
    "'Hiçbiri' başka bir seçenekle birlikte seçilemez.",
    "'None' cannot be combined with another option.",
    "لا يمكن اختيار «لا شيء» مع خيار آخر.",
)


def none_alone(choice: str = "none") -> str:
    """Return a constraint that keeps an exclusive choice ('none') alone."""
    return f"not(selected(., '{choice}') and count-selected(.) > 1)"
