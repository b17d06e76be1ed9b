"""Mixed-migration profiling: one person on the move, interviewed after informed consent.

Every section after the consent question is relevant only when consent is 'yes', so a refusal
ends the form with nothing recorded about the person. Identifiers carry ``pii``: names, phone
and document numbers are ``identifier``; the date of birth is ``quasi year``, ages are
``quasi band:5``, dates of travel ``quasi month`` and the interview GPS ``quasi round:2``
(about 1 km); narratives are ``sensitive``; the phone re-entry used only to check the number is
``drop``. The current province is kept as ordinary data: it is already the first
administrative level, so generalising it to ``admin1`` would change nothing.
"""

# ruff: noqa: E501 - a table of translated texts reads best with one text per line.

from __future__ import annotations

from forms.surveys._source import migration_profile_choices as lists
from forms.surveys._source.common import (
    COUNTRIES,
    LANGUAGES_SPOKEN,
    NONE_ALONE,
    PROVINCES,
    REGIONS,
    SEX,
    YES_NO,
    YES_NO_REFUSED,
    YES_NO_UNKNOWN,
    none_alone,
)
from forms.surveys._source.dsl import (
    DEFAULT_LANGUAGE,
    Q,
    Survey,
    T,
    begin_group,
    begin_repeat,
    end_group,
    end_repeat,
    note,
)

CONSENTED = "${consent} = 'yes'"
SPECIFY = T("Lütfen belirtin", "Please specify", "يرجى التحديد")
NOT_FUTURE = T(
    "Tarih gelecekte olamaz.",
    "The date cannot be in the future.",
    "لا يمكن أن يكون التاريخ في المستقبل.",
)
DOCUMENT_NUMBER = "regex(., '^[A-Za-z0-9]{5,20}$')"
DOCUMENT_NUMBER_MESSAGE = T(
    "Belge numarası 5-20 harf veya rakamdan oluşmalıdır (boşluksuz).",
    "A document number has 5 to 20 letters or digits (no spaces).",
    "يتكون رقم الوثيقة من 5 إلى 20 حرفًا أو رقمًا (دون مسافات).",
)


def section(name: str, label: T, relevant: str = CONSENTED) -> Q:
    """Open a section that exists only once consent is given."""
    return begin_group(name, label, relevant=relevant)


ADMIN = [
    Q("start", "start"),
    Q("end", "end"),
    Q("today", "today"),
    Q("deviceid", "deviceid"),
    Q(
        "text",
        "interviewer_code",
        T("Görüşmeci kodu", "Interviewer code", "رمز الباحث الميداني"),
        hint=T(
            "İki büyük harf ve üç rakam, ör. IZ014.",
            "Two capital letters and three digits, e.g. IZ014.",
            "حرفان كبيران وثلاثة أرقام، مثل IZ014.",
        ),
        required=True,
        constraint="regex(., '^[A-Z]{2}[0-9]{3}$')",
        constraint_message=T(
            "Kod iki büyük harf ve üç rakamdan oluşmalıdır.",
            "The code is two capital letters and three digits.",
            "يتكون الرمز من حرفين كبيرين وثلاثة أرقام.",
        ),
    ),
    Q(
        "date",
        "interview_date",
        T("Görüşme tarihi", "Interview date", "تاريخ المقابلة"),
        required=True,
        default="today()",
        constraint=". <= today()",
        constraint_message=NOT_FUTURE,
    ),
    note(
        "consent_info",
        T(
            "Merhaba. Türkiye'deki göçmenlerin durumunu ve ihtiyaçlarını anlamak ve gerekirse uygun destek hizmetlerine yönlendirmek için bilgi topluyoruz. Görüşme yaklaşık 30 dakika sürer. Katılım gönüllüdür: istemediğiniz soruyu yanıtlamayabilir, görüşmeyi istediğiniz an durdurabilirsiniz. Katılıp katılmamanız alacağınız hizmetleri veya hukuki durumunuzu etkilemez. Bilgileriniz şifrelenerek saklanır; kimliğinizi belirten bilgiler ayrıca korunur ve yalnızca yetkili personel tarafından görülebilir.",
            "Hello. We are collecting information to understand the situation and needs of migrants in Türkiye and, where needed, to refer people to suitable support services. The interview takes about 30 minutes. Taking part is voluntary: you may skip any question and stop at any time. Whether you take part or not does not affect the services you receive or your legal situation. Your information is stored encrypted; details that identify you are protected separately and only authorised staff can see them.",
            "مرحبًا. نجمع معلومات لفهم أوضاع المهاجرين في تركيا واحتياجاتهم، ولإحالتهم عند الحاجة إلى خدمات الدعم المناسبة. تستغرق المقابلة نحو 30 دقيقة. المشاركة طوعية: يمكنك عدم الإجابة عن أي سؤال والتوقف في أي وقت. لا تؤثر مشاركتك أو عدمها في الخدمات التي تتلقاها أو في وضعك القانوني. تُحفظ معلوماتك مشفّرة، وتُحمى البيانات التي تحدد هويتك بشكل منفصل ولا يطّلع عليها إلا الموظفون المخوّلون.",
        ),
        hint=T(
            "Kendinizi ve kurumunuzu tanıtın; metni kişinin anladığı dilde okuyun ve sorularını yanıtlayın.",
            "Introduce yourself and your organisation; read this text in a language the person understands and answer their questions.",
            "عرّف بنفسك وبمؤسستك، واقرأ هذا النص بلغة يفهمها الشخص، وأجب عن أسئلته.",
        ),
    ),
    Q(
        "select_one yes_no",
        "consent",
        T(
            "Görüşmeye katılmayı kabul ediyor musunuz?",
            "Do you agree to take part in this interview?",
            "هل توافق على المشاركة في هذه المقابلة؟",
        ),
        required=True,
    ),
    note(
        "refusal_note",
        T(
            "Kişi onay vermedi. Teşekkür edin ve görüşmeyi sonlandırın. Başka bilgi kaydetmeyin; formu kaydedip gönderin.",
            "The person did not consent. Thank them and end the interview. Record nothing else; save and send the form.",
            "لم يوافق الشخص. اشكره وأنهِ المقابلة. لا تسجّل أي معلومات أخرى، واحفظ الاستمارة وأرسلها.",
        ),
        relevant="${consent} = 'no'",
    ),
]

PLACE = [
    section("place", T("Görüşme yeri", "Place of interview", "مكان المقابلة")),
    Q(
        "select_one location_type",
        "location_type",
        T("Görüşme yerinin türü", "Type of interview location", "نوع مكان المقابلة"),
        required=True,
    ),
    Q(
        "select_one region",
        "current_region",
        T("Bulunulan bölge", "Current region", "المنطقة الحالية"),
        required=True,
    ),
    Q(
        "select_one province",
        "current_province",
        T("Bulunulan il", "Current province", "الولاية الحالية"),
        required=True,
        choice_filter="region = ${current_region}",
    ),
    Q(
        "geopoint",
        "gps",
        T("Görüşme yerinin konumu", "Location of the interview", "موقع المقابلة"),
        hint=T(
            "Konumu görüşme yerinde alın. Yalnızca yaklaşık konum (yaklaşık 1 km) saklanır.",
            "Capture the location at the interview place. Only an approximate location (about 1 km) is stored.",
            "سجّل الموقع في مكان المقابلة. لا يُحفظ إلا موقع تقريبي (نحو 1 كم).",
        ),
        pii="quasi",
        pii_rule="round:2",
    ),
    Q(
        "select_one language",
        "interview_language",
        T("Görüşme dili", "Language of the interview", "لغة المقابلة"),
        required=True,
    ),
    Q(
        "select_one yes_no",
        "interpreter_used",
        T("Tercüman kullanıldı mı?", "Was an interpreter used?", "هل استُعين بمترجم؟"),
        required=True,
    ),
    end_group(),
]

AGE = "if(${dob_known} = 'yes' and string-length(${dob}) > 0, int((decimal-date-time(today()) - decimal-date-time(${dob})) div 365.25), ${age_estimate})"

PERSON = [
    section("person", T("Kişisel bilgiler", "Personal details", "البيانات الشخصية")),
    Q(
        "text",
        "full_name",
        T("Adı ve soyadı", "Full name", "الاسم الكامل"),
        hint=T(
            "Kişinin kendini tanıttığı şekliyle yazın.",
            "Write it as the person gives it.",
            "اكتبه كما يذكره الشخص.",
        ),
        required=True,
        pii="identifier",
        pii_rule="name",
    ),
    Q("select_one sex", "sex", T("Cinsiyet", "Sex", "الجنس"), required=True),
    Q(
        "select_one yes_no",
        "dob_known",
        T(
            "Doğum tarihini biliyor mu?",
            "Does the person know their date of birth?",
            "هل يعرف الشخص تاريخ ميلاده؟",
        ),
        required=True,
    ),
    Q(
        "date",
        "dob",
        T("Doğum tarihi", "Date of birth", "تاريخ الميلاد"),
        required=True,
        relevant="${dob_known} = 'yes'",
        constraint=". <= today() and (decimal-date-time(today()) - decimal-date-time(.)) div 365.25 <= 100",
        constraint_message=T(
            "Doğum tarihi gelecekte olamaz ve yaş 100'ü geçemez.",
            "The date of birth cannot be in the future and the age cannot exceed 100.",
            "لا يمكن أن يكون تاريخ الميلاد في المستقبل، ولا أن يتجاوز العمر 100 عام.",
        ),
        pii="quasi",
        pii_rule="year",
    ),
    Q(
        "integer",
        "age_estimate",
        T("Tahmini yaş (yıl)", "Estimated age (years)", "العمر التقديري (بالسنوات)"),
        required=True,
        relevant="${dob_known} = 'no'",
        constraint=". >= 0 and . <= 100",
        constraint_message=T(
            "Yaş 0 ile 100 arasında olmalıdır.",
            "The age must be between 0 and 100.",
            "يجب أن يكون العمر بين 0 و100.",
        ),
        pii="quasi",
        pii_rule="band:5",
    ),
    Q("calculate", "age", calculation=AGE, pii="quasi", pii_rule="band:5"),
    Q(
        "calculate",
        "is_minor",
        calculation="if(string-length(${age}) > 0 and ${age} < 18, 'yes', 'no')",
    ),
    note(
        "minor_note",
        T(
            "Kişi 18 yaşından küçük. Çocuğun yüksek yararını gözetin; mümkünse görüşmeyi bir çocuk koruma uzmanıyla yapın.",
            "The person is under 18. Act in the child's best interests; where possible, hold the interview with a child-protection specialist.",
            "الشخص دون 18 عامًا. راعِ مصلحة الطفل الفضلى، وأجرِ المقابلة مع أخصائي في حماية الطفل إن أمكن.",
        ),
        relevant="${is_minor} = 'yes'",
    ),
    Q(
        "select_one accompaniment",
        "accompaniment",
        T("Çocuk kimin yanında?", "Who is the child with?", "مع من يوجد الطفل؟"),
        required=True,
        relevant="${is_minor} = 'yes'",
    ),
    Q(
        "select_one country",
        "nationality",
        T("Uyruğu", "Nationality", "الجنسية"),
        required=True,
        choice_filter="is_nationality = '1'",
    ),
    Q(
        "text",
        "nationality_other",
        SPECIFY,
        required=True,
        relevant="${nationality} = 'other'",
        pii="sensitive",
    ),
    Q(
        "select_one country",
        "country_origin",
        T(
            "Menşe ülke (ayrıldığı ülke)",
            "Country of origin (country left)",
            "بلد المنشأ (البلد الذي غادره)",
        ),
        hint=T(
            "Uyrukla aynı olmayabilir.",
            "It may differ from the nationality.",
            "قد يختلف عن الجنسية.",
        ),
        required=True,
        choice_filter="is_origin = '1'",
    ),
    Q(
        "text",
        "country_origin_other",
        SPECIFY,
        required=True,
        relevant="${country_origin} = 'other'",
        pii="sensitive",
    ),
    Q(
        "select_multiple language",
        "languages_spoken",
        T("Konuştuğu diller", "Languages spoken", "اللغات التي يتحدثها"),
        required=True,
    ),
    Q(
        "select_one marital",
        "marital_status",
        T("Medeni durum", "Marital status", "الحالة الاجتماعية"),
        required=True,
    ),
    Q(
        "select_one education",
        "education",
        T("En son tamamladığı eğitim", "Highest education completed", "أعلى مستوى تعليمي أتمّه"),
        required=True,
    ),
    Q(
        "select_one yes_no",
        "has_phone",
        T(
            "Kendisine ulaşılabilecek bir telefon numarası var mı?",
            "Is there a phone number where the person can be reached?",
            "هل لدى الشخص رقم هاتف يمكن التواصل معه عليه؟",
        ),
        required=True,
    ),
    Q(
        "text",
        "phone",
        T("Telefon numarası", "Phone number", "رقم الهاتف"),
        hint=T(
            "Ülke koduyla, yalnızca rakam; ör. +905321234567.",
            "With the country code, digits only, e.g. +905321234567.",
            "مع رمز البلد، أرقام فقط، مثل ‎+905321234567.",
        ),
        required=True,
        relevant="${has_phone} = 'yes'",
        appearance="numbers",
        constraint="regex(., '^\\+?[0-9]{7,15}$')",
        constraint_message=T(
            "Yalnızca rakam girin (7-15 hane); başta + olabilir.",
            "Enter digits only (7 to 15), optionally starting with +.",
            "أدخل أرقامًا فقط (من 7 إلى 15 رقمًا)، ويجوز أن يبدأ الرقم بعلامة +.",
        ),
        pii="identifier",
        pii_rule="phone",
    ),
    Q(
        "text",
        "phone_confirm",
        T(
            "Telefon numarasını tekrar girin",
            "Enter the phone number again",
            "أدخل رقم الهاتف مرة أخرى",
        ),
        hint=T(
            "Yalnızca doğrulama içindir; saklanmaz.",
            "Used only to check the number; it is not stored.",
            "يُستخدم للتحقق فقط ولا يُحفظ.",
        ),
        required=True,
        relevant="${has_phone} = 'yes'",
        appearance="numbers",
        constraint=". = ${phone}",
        constraint_message=T(
            "Numaralar eşleşmiyor.", "The numbers do not match.", "الرقمان غير متطابقين."
        ),
        pii="drop",
    ),
    end_group(),
]

PROFILE = [
    section(
        "profiling",
        T("Profil ve hukuki durum", "Profile and legal situation", "الملف الشخصي والوضع القانوني"),
    ),
    Q(
        "select_one profile",
        "profile",
        T(
            "Ön değerlendirmeye göre profil",
            "Profile (preliminary assessment)",
            "الملف الشخصي (تقييم أولي)",
        ),
        hint=T(
            "Görüşmecinin ön değerlendirmesidir; hukuki statü belirlemez.",
            "The interviewer's preliminary assessment; it does not determine legal status.",
            "تقييم أولي من الباحث الميداني، ولا يحدد الوضع القانوني.",
        ),
        required=True,
        constraint=". != 'uasc' or ${is_minor} = 'yes'",
        constraint_message=T(
            "Bu profil yalnızca 18 yaşından küçükler için seçilebilir.",
            "This profile applies only to persons under 18.",
            "لا ينطبق هذا الملف إلا على من هم دون 18 عامًا.",
        ),
    ),
    Q(
        "text",
        "profile_other",
        SPECIFY,
        required=True,
        relevant="${profile} = 'other'",
        pii="sensitive",
    ),
    Q(
        "select_one status_tr",
        "status_tr",
        T("Türkiye'deki hukuki durumu", "Legal status in Türkiye", "الوضع القانوني في تركيا"),
        required=True,
    ),
    Q(
        "select_one yes_no_unknown",
        "registered_pmm",
        T(
            "İl Göç İdaresi Müdürlüğüne kayıt başvurusu yaptı mı?",
            "Has the person applied for registration with the Provincial Directorate of Migration Management?",
            "هل تقدّم الشخص بطلب تسجيل لدى مديرية إدارة الهجرة في الولاية؟",
        ),
        required=True,
        relevant="${status_tr} = 'no_status' or ${status_tr} = 'dont_know'",
    ),
    end_group(),
]

JOURNEY = [
    section("journey", T("Güzergâh ve yolculuk", "Route and journey", "المسار والرحلة")),
    Q(
        "date",
        "departure_date",
        T(
            "Menşe ülkeden ayrılış tarihi",
            "Date of leaving the country of origin",
            "تاريخ مغادرة بلد المنشأ",
        ),
        hint=T(
            "Gün bilinmiyorsa ayın ilk gününü girin.",
            "If the day is not known, enter the first day of the month.",
            "إذا لم يكن اليوم معروفًا، فأدخل أول يوم من الشهر.",
        ),
        required=True,
        constraint=". <= today()",
        constraint_message=NOT_FUTURE,
        pii="quasi",
        pii_rule="month",
    ),
    Q(
        "date",
        "arrival_date",
        T("Türkiye'ye varış tarihi", "Date of arrival in Türkiye", "تاريخ الوصول إلى تركيا"),
        required=True,
        constraint=". <= today() and . >= ${departure_date}",
        constraint_message=T(
            "Varış tarihi gelecekte veya ayrılış tarihinden önce olamaz.",
            "The arrival date cannot be in the future or before the departure date.",
            "لا يمكن أن يكون تاريخ الوصول في المستقبل أو قبل تاريخ المغادرة.",
        ),
        pii="quasi",
        pii_rule="month",
    ),
    Q(
        "select_one entry_point",
        "entry_point",
        T("Türkiye'ye giriş noktası", "Point of entry into Türkiye", "نقطة الدخول إلى تركيا"),
        required=True,
    ),
    Q(
        "select_one entry_mode",
        "entry_mode",
        T("Giriş şekli", "Manner of entry", "طريقة الدخول"),
        required=True,
    ),
    Q(
        "select_multiple country",
        "transit_countries",
        T(
            "Türkiye'den önce geçtiği ülkeler",
            "Countries crossed before Türkiye",
            "البلدان التي عبرها قبل تركيا",
        ),
        hint=T(
            "Doğrudan geldiyse boş bırakın.",
            "Leave blank if the person came directly.",
            "اتركه فارغًا إذا جاء الشخص مباشرة.",
        ),
        choice_filter="is_transit = '1' and name != ${country_origin}",
    ),
    Q(
        "select_multiple transport",
        "transport_modes",
        T("Kullandığı ulaşım yolları", "Means of transport used", "وسائل النقل المستخدمة"),
        required=True,
    ),
    Q(
        "select_one yes_no_refused",
        "used_smuggler",
        T(
            "Yolculuk için bir aracıya veya kaçakçıya para ödedi mi?",
            "Did the person pay an intermediary or smuggler for the journey?",
            "هل دفع الشخص مالًا لوسيط أو مهرب مقابل الرحلة؟",
        ),
        required=True,
    ),
    Q(
        "integer",
        "smuggling_cost_usd",
        T(
            "Ödenen toplam tutar (ABD doları)",
            "Total amount paid (US dollars)",
            "المبلغ الإجمالي المدفوع (بالدولار الأمريكي)",
        ),
        relevant="${used_smuggler} = 'yes'",
        constraint=". >= 0 and . <= 50000",
        constraint_message=T(
            "Tutar 0 ile 50.000 arasında olmalıdır.",
            "The amount must be between 0 and 50,000.",
            "يجب أن يكون المبلغ بين 0 و50,000.",
        ),
    ),
    Q(
        "select_multiple incident",
        "journey_incidents",
        T(
            "Yolculuk sırasında yaşadığı olaylar",
            "Incidents experienced during the journey",
            "الحوادث التي تعرّض لها أثناء الرحلة",
        ),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    end_group(),
]

FOREIGNER_ID_DOCS = "selected(${documents_held}, 'tp_id') or selected(${documents_held}, 'ip_applicant_id') or selected(${documents_held}, 'residence_permit')"

DOCUMENTS = [
    section(
        "documents",
        T("Seyahat ve kimlik belgeleri", "Travel and identity documents", "وثائق السفر والهوية"),
    ),
    Q(
        "select_multiple document",
        "documents_held",
        T("Elinde bulunan belgeler", "Documents held", "الوثائق التي بحوزته"),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "text",
        "passport_number",
        T("Pasaport numarası", "Passport number", "رقم جواز السفر"),
        required=True,
        relevant="selected(${documents_held}, 'passport')",
        constraint=DOCUMENT_NUMBER,
        constraint_message=DOCUMENT_NUMBER_MESSAGE,
        pii="identifier",
        pii_rule="document",
    ),
    Q(
        "select_one country",
        "passport_country",
        T("Pasaportu veren ülke", "Country that issued the passport", "البلد الذي أصدر جواز السفر"),
        required=True,
        relevant="selected(${documents_held}, 'passport')",
        choice_filter="is_nationality = '1' and name != 'stateless'",
    ),
    Q(
        "text",
        "national_id_number",
        T(
            "Ulusal kimlik kartı numarası",
            "National identity card number",
            "رقم بطاقة الهوية الوطنية",
        ),
        required=True,
        relevant="selected(${documents_held}, 'national_id')",
        constraint=DOCUMENT_NUMBER,
        constraint_message=DOCUMENT_NUMBER_MESSAGE,
        pii="identifier",
        pii_rule="document",
    ),
    Q(
        "text",
        "foreigner_id_number",
        T("Yabancı kimlik numarası", "Foreigner identification number", "رقم هوية الأجنبي"),
        hint=T(
            "Türkiye'de verilen, 99 ile başlayan 11 haneli numara.",
            "The 11-digit number starting with 99 issued in Türkiye.",
            "الرقم المكوّن من 11 خانة الذي يبدأ بـ 99 ويصدر في تركيا.",
        ),
        required=True,
        relevant=FOREIGNER_ID_DOCS,
        appearance="numbers",
        constraint="regex(., '^99[0-9]{9}$')",
        constraint_message=T(
            "Numara 99 ile başlamalı ve 11 haneli olmalıdır.",
            "The number must start with 99 and have 11 digits.",
            "يجب أن يبدأ الرقم بـ 99 وأن يتكون من 11 خانة.",
        ),
        pii="identifier",
        pii_rule="document",
    ),
    Q(
        "select_one document_condition",
        "document_condition",
        T("Belgelerin durumu", "Condition of the documents", "حالة الوثائق"),
        hint=T(
            "Belgeleri kişinin izniyle ve yalnızca görsel olarak inceleyin.",
            "Examine the documents visually and only with the person's permission.",
            "افحص الوثائق بصريًا فقط وبإذن الشخص.",
        ),
        required=True,
        relevant="not(selected(${documents_held}, 'none'))",
    ),
    Q(
        "select_multiple fraud_indicator",
        "fraud_indicators",
        T("Sahtecilik göstergeleri", "Indicators of fraud", "مؤشرات التزوير"),
        required=True,
        relevant="${document_condition} = 'suspected_fraud'",
    ),
    Q(
        "text",
        "document_notes",
        T(
            "Belge incelemesine ilişkin gözlemler",
            "Observations on the document examination",
            "ملاحظات حول فحص الوثائق",
        ),
        relevant="${document_condition} = 'suspected_fraud'",
        appearance="multiline",
        pii="sensitive",
    ),
    Q(
        "select_one yes_no_refused",
        "documents_retained",
        T(
            "Belgelerinizi sizin yerinize başka biri tutuyor mu?",
            "Does someone else keep your documents for you?",
            "هل يحتفظ شخص آخر بوثائقك بدلًا منك؟",
        ),
        required=True,
    ),
    end_group(),
]

PROTECTION = [
    section(
        "protection",
        T(
            "Koruma ihtiyaçları ve kırılganlık",
            "Protection needs and vulnerability",
            "احتياجات الحماية ومواطن الضعف",
        ),
    ),
    Q(
        "select_multiple vulnerability",
        "vulnerabilities",
        T("Kırılganlık göstergeleri", "Vulnerability indicators", "مؤشرات الضعف"),
        hint=T(
            "Gözlemlenen veya kişinin belirttiği tüm durumları seçin.",
            "Select everything observed or stated by the person.",
            "اختر كل ما لوحظ أو ذكره الشخص.",
        ),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_one yes_no",
        "urgent_medical",
        T(
            "Acil tıbbi müdahale gerekiyor mu?",
            "Is urgent medical care needed?",
            "هل يحتاج إلى رعاية طبية عاجلة؟",
        ),
        required=True,
    ),
    note(
        "urgent_medical_note",
        T(
            "Kişiyi hemen en yakın sağlık kuruluşuna yönlendirin; acil durumda 112'yi arayın.",
            "Refer the person to the nearest health facility now; in an emergency call 112.",
            "أحِل الشخص فورًا إلى أقرب مرفق صحي، وفي حالات الطوارئ اتصل بالرقم 112.",
        ),
        relevant="${urgent_medical} = 'yes'",
    ),
    Q(
        "select_one yes_no_refused",
        "fear_of_return",
        T(
            "Ülkesine dönerse zarar görmekten korkuyor mu?",
            "Does the person fear harm if returned to their country?",
            "هل يخشى الشخص التعرض للأذى إذا أُعيد إلى بلده؟",
        ),
        required=True,
    ),
    Q(
        "select_multiple fear_reason",
        "fear_reasons",
        T("Korkunun nedenleri", "Reasons for the fear", "أسباب الخوف"),
        required=True,
        relevant="${fear_of_return} = 'yes'",
    ),
    Q(
        "select_multiple need",
        "immediate_needs",
        T("Acil ihtiyaçlar", "Immediate needs", "الاحتياجات العاجلة"),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "text",
        "protection_summary",
        T(
            "Koruma kaygılarının kısa özeti",
            "Short summary of protection concerns",
            "ملخص موجز لمخاوف الحماية",
        ),
        hint=T(
            "Yalnızca yönlendirme için gereken bilgiyi yazın; isim yazmayın.",
            "Write only what a referral needs; do not write names.",
            "اكتب فقط ما تحتاجه الإحالة، ولا تكتب أسماء.",
        ),
        appearance="multiline",
        pii="sensitive",
    ),
    end_group(),
]

FLAGGED = (
    "${profile} = 'trafficking_victim' or ${screen_forced_work} = 'yes' or ${screen_debt} = 'yes'"
    " or ${screen_free_to_leave} = 'no' or ${documents_retained} = 'yes'"
)

TRAFFICKING = [
    section(
        "trafficking",
        T("İnsan ticareti taraması", "Trafficking screening", "فحص مؤشرات الاتجار بالبشر"),
    ),
    note(
        "screening_note",
        T(
            "Aşağıdaki soruları sakin bir ortamda sorun. Kişi yanıt vermek istemezse ısrar etmeyin.",
            "Ask the following questions in a calm setting. Do not insist if the person prefers not to answer.",
            "اطرح الأسئلة التالية في جو هادئ، ولا تُلحّ إذا فضّل الشخص عدم الإجابة.",
        ),
    ),
    Q(
        "select_one yes_no_refused",
        "screen_forced_work",
        T(
            "Yolculuğunuz sırasında veya Türkiye'de istemediğiniz bir işi yapmaya zorlandınız mı?",
            "During your journey or in Türkiye, were you made to work or do things you did not want to do?",
            "أثناء رحلتك أو في تركيا، هل أُجبرت على العمل أو على القيام بأمور لم تكن تريدها؟",
        ),
        required=True,
    ),
    Q(
        "select_one yes_no_refused",
        "screen_debt",
        T(
            "Yolculuğunuz veya işiniz nedeniyle size baskı yapan birine borcunuz var mı?",
            "Do you owe money to someone who pressures you because of your journey or your work?",
            "هل أنت مدين لشخص يضغط عليك بسبب رحلتك أو عملك؟",
        ),
        required=True,
    ),
    Q(
        "select_one yes_no_refused",
        "screen_free_to_leave",
        T(
            "Kaldığınız veya çalıştığınız yerden istediğiniz zaman ayrılabiliyor musunuz?",
            "Can you leave the place where you stay or work whenever you want?",
            "هل يمكنك مغادرة المكان الذي تقيم أو تعمل فيه متى شئت؟",
        ),
        required=True,
    ),
    Q("calculate", "trafficking_flag", calculation=f"if({FLAGGED}, 'yes', 'no')"),
    begin_group(
        "indicators",
        T("İnsan ticareti göstergeleri", "Trafficking indicators", "مؤشرات الاتجار بالبشر"),
        relevant="${trafficking_flag} = 'yes'",
    ),
    note(
        "indicators_note",
        T(
            "Olası insan ticareti göstergeleri var. Soruları özenle sorun ve kişiyi yalnızca kendi onayıyla yönlendirin.",
            "There are possible indicators of trafficking. Ask with care and refer the person only with their consent.",
            "توجد مؤشرات محتملة على الاتجار بالبشر. اطرح الأسئلة بعناية، ولا تُحِل الشخص إلا بموافقته.",
        ),
    ),
    Q(
        "select_multiple recruitment",
        "ti_recruitment",
        T(
            "İşe alınma veya yola çıkarılma şekli",
            "How the person was recruited or moved",
            "كيف جرى استقطاب الشخص أو نقله",
        ),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_multiple exploitation",
        "ti_exploitation",
        T("Sömürü türü", "Type of exploitation", "نوع الاستغلال"),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_multiple control",
        "ti_control",
        T("Kontrol yöntemleri", "Means of control", "وسائل السيطرة"),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_one yes_no_refused",
        "ti_ongoing",
        T(
            "Kişi hâlâ bu durumda mı?",
            "Is the person still in this situation?",
            "هل لا يزال الشخص في هذا الوضع؟",
        ),
        required=True,
    ),
    Q(
        "select_one yes_no",
        "ti_immediate_danger",
        T(
            "Kişi veya ailesi şu anda tehlikede mi?",
            "Are the person or their family in danger now?",
            "هل الشخص أو عائلته في خطر الآن؟",
        ),
        required=True,
    ),
    note(
        "danger_note",
        T(
            "Acil tehlike varsa 112'yi arayın. İnsan ticareti vakalarını 157 YİMER hattına bildirin.",
            "If there is immediate danger, call 112. Report trafficking cases to the 157 YİMER line.",
            "في حال وجود خطر داهم اتصل بالرقم 112، وأبلغ عن حالات الاتجار بالبشر على خط يمير 157.",
        ),
        relevant="${ti_immediate_danger} = 'yes' or ${ti_ongoing} = 'yes'",
    ),
    Q(
        "select_one yes_no",
        "ti_referral_consent",
        T(
            "Kişi, insan ticareti mağdurlarına yönelik destek mekanizmasına yönlendirilmeyi kabul ediyor mu?",
            "Does the person agree to be referred to the support mechanism for victims of trafficking?",
            "هل يوافق الشخص على إحالته إلى آلية دعم ضحايا الاتجار بالبشر؟",
        ),
        required=True,
    ),
    Q(
        "text",
        "ti_notes",
        T("Göstergelere ilişkin notlar", "Notes on the indicators", "ملاحظات حول المؤشرات"),
        appearance="multiline",
        pii="sensitive",
    ),
    end_group(),
    end_group(),
]

INTENTIONS = [
    section("intentions", T("Niyetler", "Intentions", "النوايا")),
    Q(
        "select_one intention",
        "intention",
        T(
            "Önümüzdeki altı ay için planı",
            "Plan for the next six months",
            "الخطة للأشهر الستة المقبلة",
        ),
        required=True,
    ),
    Q(
        "select_one country",
        "destination_country",
        T("Gitmeyi düşündüğü ülke", "Intended country of destination", "بلد الوجهة المقصود"),
        required=True,
        relevant="${intention} = 'onward'",
        choice_filter="is_destination = '1' and name != ${country_origin}",
    ),
    Q(
        "select_multiple intention_reason",
        "intention_reasons",
        T("Bu planın nedenleri", "Reasons for this plan", "أسباب هذه الخطة"),
        required=True,
        relevant="${intention} != 'undecided'",
    ),
    Q(
        "select_one yes_no_unknown",
        "avr_interest",
        T(
            "Gönüllü geri dönüş desteği hakkında bilgi almak istiyor mu?",
            "Would the person like information on assisted voluntary return?",
            "هل يرغب الشخص في الحصول على معلومات عن العودة الطوعية بمساعدة؟",
        ),
        required=True,
        relevant="${intention} = 'return' or ${intention} = 'undecided'",
    ),
    end_group(),
]

HOUSEHOLD = [
    section("family", T("Birlikte seyahat edenler", "Travelling companions", "المرافقون في السفر")),
    Q(
        "integer",
        "hh_count",
        T(
            "Sizinle birlikte seyahat eden aile veya hane üyesi sayısı (siz hariç)",
            "Number of family or household members travelling with you (not counting you)",
            "عدد أفراد العائلة أو الأسرة المسافرين معك (من دونك)",
        ),
        required=True,
        constraint=". >= 0 and . <= 20",
        constraint_message=T(
            "0 ile 20 arasında bir sayı girin.",
            "Enter a number from 0 to 20.",
            "أدخل رقمًا من 0 إلى 20.",
        ),
    ),
    end_group(),
    begin_repeat(
        "household",
        T("Hane üyesi", "Household member", "فرد من الأسرة"),
        repeat_count="${hh_count}",
        relevant=f"{CONSENTED} and ${{hh_count}} > 0",
    ),
    Q("calculate", "member_index", calculation="position(..)"),
    Q(
        "text",
        "member_name",
        T(
            "Hane üyesi ${member_index}: adı ve soyadı",
            "Household member ${member_index}: full name",
            "فرد الأسرة ${member_index}: الاسم الكامل",
        ),
        required=True,
        pii="identifier",
        pii_rule="name",
    ),
    Q(
        "select_one relationship",
        "member_relationship",
        T(
            "Görüşülen kişiyle yakınlığı",
            "Relationship to the person interviewed",
            "صلة القرابة بالشخص الذي تُجرى معه المقابلة",
        ),
        required=True,
    ),
    Q("select_one sex", "member_sex", T("Cinsiyet", "Sex", "الجنس"), required=True),
    Q(
        "integer",
        "member_age",
        T("Yaş (yıl)", "Age (years)", "العمر (بالسنوات)"),
        required=True,
        constraint=". >= 0 and . <= 110",
        constraint_message=T(
            "Yaş 0 ile 110 arasında olmalıdır.",
            "The age must be between 0 and 110.",
            "يجب أن يكون العمر بين 0 و110.",
        ),
        pii="quasi",
        pii_rule="band:5",
    ),
    Q(
        "select_multiple vulnerability",
        "member_vulnerabilities",
        T("Kırılganlık göstergeleri", "Vulnerability indicators", "مؤشرات الضعف"),
        required=True,
        choice_filter="name != 'uasc'",
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_one yes_no",
        "member_has_document",
        T(
            "Kimlik veya seyahat belgesi var mı?",
            "Does this member hold an identity or travel document?",
            "هل يحمل هذا الفرد وثيقة هوية أو سفر؟",
        ),
        required=True,
    ),
    Q(
        "text",
        "member_document_number",
        T("Belge numarası", "Document number", "رقم الوثيقة"),
        required=True,
        relevant="${member_has_document} = 'yes'",
        constraint=DOCUMENT_NUMBER,
        constraint_message=DOCUMENT_NUMBER_MESSAGE,
        pii="identifier",
        pii_rule="document",
    ),
    end_repeat(),
]

REFERRAL = [
    section("referral", T("Yönlendirme", "Referral", "الإحالة")),
    Q(
        "select_one yes_no",
        "referral_made",
        T("Yönlendirme yapıldı mı?", "Was a referral made?", "هل تمت إحالة؟"),
        required=True,
    ),
    Q(
        "select_multiple referral_to",
        "referral_to",
        T("Yönlendirilen kurum veya hizmetler", "Referred to", "الجهات أو الخدمات التي أُحيل إليها"),
        required=True,
        relevant="${referral_made} = 'yes'",
    ),
    Q(
        "select_one urgency",
        "referral_urgency",
        T("Yönlendirmenin aciliyeti", "Urgency of the referral", "درجة استعجال الإحالة"),
        required=True,
        relevant="${referral_made} = 'yes'",
    ),
    Q(
        "select_one no_referral_reason",
        "no_referral_reason",
        T("Yönlendirme yapılmama nedeni", "Reason for no referral", "سبب عدم الإحالة"),
        required=True,
        relevant="${referral_made} = 'no'",
    ),
    note(
        "closing_note",
        T(
            "Görüşme tamamlandı. Kişiye teşekkür edin, sorularını yanıtlayın ve yönlendirme bilgilerini verin.",
            "The interview is complete. Thank the person, answer their questions and give them the referral details.",
            "اكتملت المقابلة. اشكر الشخص، وأجب عن أسئلته، وزوّده بمعلومات الإحالة.",
        ),
    ),
    end_group(),
]

SURVEY = Survey(
    settings={
        "form_title": "Karma Göç Profilleme Görüşmesi (Mixed-migration profiling)",
        "form_id": "migration_profile",
        "version": "2026112301",
        "name": "migration_profile",
        "default_language": DEFAULT_LANGUAGE,
    },
    survey=[
        *ADMIN,
        *PLACE,
        *PERSON,
        *PROFILE,
        *JOURNEY,
        *DOCUMENTS,
        *PROTECTION,
        *TRAFFICKING,
        *INTENTIONS,
        *HOUSEHOLD,
        *REFERRAL,
    ],
    choices=[
        *YES_NO,
        *YES_NO_REFUSED,
        *YES_NO_UNKNOWN,
        *REGIONS,
        *PROVINCES,
        *COUNTRIES,
        *LANGUAGES_SPOKEN,
        *SEX,
        *lists.ALL,
    ],
)
