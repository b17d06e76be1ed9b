"""Institutional capacity-needs assessment of one institution working on migration.

The respondent answers for the institution; no name is asked. The follow-up phone number and
e-mail address are ``identifier``; the institution's name and every free-text answer are
``sensitive`` (they can point at one unit and its staff). Every section after consent is
relevant only when consent is 'yes'.
"""

# ruff: noqa: E501 - a table of translated texts reads best with one text per line.

from __future__ import annotations

from forms.surveys._source import capacity_needs_choices as lists
from forms.surveys._source.common import (
    LANGUAGES_SPOKEN,
    NONE_ALONE,
    PROVINCES,
    REGIONS,
    YES_NO,
    YES_NO_UNKNOWN,
    none_alone,
)
from forms.surveys._source.dsl import DEFAULT_LANGUAGE, Q, Survey, T, begin_group, end_group, note

CONSENTED = "${consent} = 'yes'"
SPECIFY = T("Lütfen belirtin", "Please specify", "يرجى التحديد")
NOT_MORE_THAN_STAFF = T(
    "Bu sayı toplam personel sayısını aşamaz.",
    "This number cannot exceed the total number of staff.",
    "لا يمكن أن يتجاوز هذا العدد إجمالي عدد الموظفين.",
)


def section(name: str, label: T, *, appearance: str = "") -> Q:
    """Open a section that exists only once consent is given."""
    return begin_group(name, label, relevant=CONSENTED, appearance=appearance)


def count(
    name: str, label: T, *, most: str, message: T, relevant: str = "", hint: T | None = None
) -> Q:
    """A required whole number from 0 up to a bound."""
    return Q("integer", name, label, hint=hint, required=True, relevant=relevant,
             constraint=f". >= 0 and . <= {most}", constraint_message=message)  # fmt: skip


ADMIN = [
    Q("start", "start"),
    Q("end", "end"),
    Q("today", "today"),
    Q("deviceid", "deviceid"),
    Q(
        "text",
        "assessor_code",
        T("Değerlendirici kodu", "Assessor code", "رمز المُقيِّم"),
        hint=T(
            "İki büyük harf ve üç rakam, ör. AN007.",
            "Two capital letters and three digits, e.g. AN007.",
            "حرفان كبيران وثلاثة أرقام، مثل AN007.",
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
        "assessment_date",
        T("Değerlendirme tarihi", "Assessment date", "تاريخ التقييم"),
        required=True,
        default="today()",
        constraint=". <= today()",
        constraint_message=T(
            "Tarih gelecekte olamaz.",
            "The date cannot be in the future.",
            "لا يمكن أن يكون التاريخ في المستقبل.",
        ),
    ),
    note(
        "consent_info",
        T(
            "Bu değerlendirme, kurumunuzun göç alanındaki kapasitesini ve eğitim ihtiyaçlarını belirlemek için yapılmaktadır. Yanıtlar kurum adına verilir; kişisel görüşleriniz kurum dışında sizinle ilişkilendirilmez. Katılım gönüllüdür ve istediğiniz soruyu yanıtlamayabilirsiniz. Görüşme yaklaşık 40 dakika sürer.",
            "This assessment identifies your institution's capacity and training needs in the field of migration. Answers are given on behalf of the institution; your personal views are not attributed to you outside it. Taking part is voluntary and you may skip any question. The interview takes about 40 minutes.",
            "يهدف هذا التقييم إلى تحديد قدرات مؤسستكم واحتياجاتها التدريبية في مجال الهجرة. تُقدَّم الإجابات باسم المؤسسة، ولا تُنسب آراؤكم الشخصية إليكم خارجها. المشاركة طوعية، ويمكنكم عدم الإجابة عن أي سؤال. تستغرق المقابلة نحو 40 دقيقة.",
        ),
    ),
    Q(
        "select_one yes_no",
        "consent",
        T(
            "Değerlendirmeye katılmayı kabul ediyor musunuz?",
            "Do you agree to take part in this assessment?",
            "هل توافقون على المشاركة في هذا التقييم؟",
        ),
        required=True,
    ),
    note(
        "refusal_note",
        T(
            "Katılımcı onay vermedi. Teşekkür edin ve formu kaydedip gönderin.",
            "The respondent did not consent. Thank them, then save and send the form.",
            "لم يوافق المشارك. اشكره ثم احفظ الاستمارة وأرسلها.",
        ),
        relevant="${consent} = 'no'",
    ),
]

INSTITUTION = [
    section("institution", T("Kurum", "Institution", "المؤسسة")),
    Q(
        "select_one institution_type",
        "institution_type",
        T("Kurumun türü", "Type of institution", "نوع المؤسسة"),
        required=True,
    ),
    Q(
        "text",
        "institution_type_other",
        SPECIFY,
        required=True,
        relevant="${institution_type} = 'other'",
        pii="sensitive",
    ),
    Q(
        "text",
        "institution_name",
        T("Kurumun veya birimin adı", "Name of the institution or unit", "اسم المؤسسة أو الوحدة"),
        required=True,
        pii="sensitive",
    ),
    Q(
        "select_one institution_level",
        "institution_level",
        T("Kurumun düzeyi", "Level of the institution", "مستوى المؤسسة"),
        required=True,
    ),
    Q("select_one region", "region", T("Bölge", "Region", "المنطقة"), required=True),
    Q(
        "select_one province",
        "province",
        T("İl", "Province", "الولاية"),
        required=True,
        choice_filter="region = ${region}",
    ),
    end_group(),
]

RESPONDENT = [
    section("respondent", T("Yanıtlayan kişi", "Respondent", "المجيب")),
    Q(
        "select_one respondent_role",
        "respondent_role",
        T("Kurumdaki göreviniz", "Your role in the institution", "دوركم في المؤسسة"),
        required=True,
    ),
    Q(
        "text",
        "respondent_role_other",
        SPECIFY,
        required=True,
        relevant="${respondent_role} = 'other'",
        pii="sensitive",
    ),
    count(
        "years_in_role",
        T("Bu görevdeki süreniz (yıl)", "Years in this role", "عدد سنوات العمل في هذا الدور"),
        most="45",
        message=T(
            "0 ile 45 arasında bir sayı girin.",
            "Enter a number from 0 to 45.",
            "أدخل رقمًا من 0 إلى 45.",
        ),
    ),
    Q(
        "select_one yes_no",
        "follow_up_consent",
        T(
            "Sonuçlar hakkında sizinle tekrar iletişime geçilmesini kabul ediyor musunuz?",
            "May we contact you again about the results?",
            "هل توافقون على أن نتواصل معكم لاحقًا بشأن النتائج؟",
        ),
        required=True,
    ),
    Q(
        "text",
        "contact_phone",
        T("İletişim telefonu", "Contact phone number", "رقم هاتف للتواصل"),
        hint=T(
            "Kurum telefonu tercih edilir; ülke koduyla, yalnızca rakam.",
            "An office number is preferred; with the country code, digits only.",
            "يُفضَّل رقم المكتب، مع رمز البلد، أرقام فقط.",
        ),
        relevant="${follow_up_consent} = 'yes'",
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
        "contact_email",
        T("İletişim e-posta adresi", "Contact e-mail address", "البريد الإلكتروني للتواصل"),
        relevant="${follow_up_consent} = 'yes'",
        constraint="regex(., '^[^@ ]+@[^@ ]+\\.[A-Za-z]{2,}$')",
        constraint_message=T(
            "Geçerli bir e-posta adresi girin.",
            "Enter a valid e-mail address.",
            "أدخل عنوان بريد إلكتروني صحيحًا.",
        ),
        pii="identifier",
        pii_rule="email",
    ),
    end_group(),
]

INSTITUTIONAL = [
    section("institutional", T("Kurumsal kapasite", "Institutional capacity", "القدرات المؤسسية")),
    Q(
        "select_one mandate",
        "mandate",
        T(
            "Göç, kurumun görev tanımında nasıl yer alıyor?",
            "How does migration feature in the institution's mandate?",
            "ما موقع الهجرة في ولاية المؤسسة؟",
        ),
        required=True,
    ),
    Q(
        "select_one yes_partly_no",
        "sop_exists",
        T(
            "Göçmenlerle çalışmaya ilişkin yazılı standart işletim prosedürleri var mı?",
            "Are there written standard operating procedures for work with migrants?",
            "هل توجد إجراءات تشغيل موحدة مكتوبة للعمل مع المهاجرين؟",
        ),
        required=True,
    ),
    Q(
        "select_one yes_partly_no",
        "sop_vulnerable",
        T(
            "Bu prosedürler kırılgan kişileri (çocuklar, insan ticareti mağdurları) kapsıyor mu?",
            "Do these procedures cover vulnerable persons (children, victims of trafficking)?",
            "هل تشمل هذه الإجراءات الأشخاص المستضعفين (الأطفال، ضحايا الاتجار بالبشر)؟",
        ),
        required=True,
        relevant="${sop_exists} != 'no'",
    ),
    Q(
        "select_one yes_partly_no",
        "referral_mechanism",
        T(
            "Diğer kurumlara yazılı bir yönlendirme mekanizması var mı?",
            "Is there a written referral mechanism to other institutions?",
            "هل توجد آلية إحالة مكتوبة إلى المؤسسات الأخرى؟",
        ),
        required=True,
    ),
    Q(
        "select_multiple partner",
        "coordination_partners",
        T(
            "Düzenli olarak birlikte çalışılan kurumlar",
            "Institutions worked with regularly",
            "المؤسسات التي يجري التعاون معها بانتظام",
        ),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_one rating",
        "coordination_rating",
        T(
            "Kurumlar arası koordinasyonu nasıl değerlendirirsiniz?",
            "How do you rate inter-agency coordination?",
            "كيف تقيّمون التنسيق بين المؤسسات؟",
        ),
        required=True,
    ),
    Q(
        "select_one yes_no_unknown",
        "data_sharing_protocol",
        T(
            "Diğer kurumlarla veri paylaşımına ilişkin imzalı bir protokol var mı?",
            "Is there a signed protocol for sharing data with other institutions?",
            "هل يوجد بروتوكول موقّع لتبادل البيانات مع المؤسسات الأخرى؟",
        ),
        required=True,
    ),
    end_group(),
]

STAFF_BOUND = "${staff_total}"

HUMAN = [
    section("human", T("İnsan kaynakları kapasitesi", "Human capacity", "القدرات البشرية")),
    Q(
        "integer",
        "staff_total",
        T("Toplam personel sayısı", "Total number of staff", "إجمالي عدد الموظفين"),
        required=True,
        constraint=". >= 1 and . <= 100000",
        constraint_message=T(
            "1 ile 100.000 arasında bir sayı girin.",
            "Enter a number from 1 to 100,000.",
            "أدخل رقمًا من 1 إلى 100,000.",
        ),
    ),
    count(
        "staff_migration",
        T(
            "Göçle ilgili işlerde çalışan personel sayısı",
            "Staff working on migration",
            "عدد الموظفين العاملين في مجال الهجرة",
        ),
        most=STAFF_BOUND,
        message=NOT_MORE_THAN_STAFF,
    ),
    count(
        "staff_female",
        T("Kadın personel sayısı", "Number of women staff", "عدد الموظفات"),
        most=STAFF_BOUND,
        message=NOT_MORE_THAN_STAFF,
    ),
    count(
        "interpreters",
        T(
            "Kurumun erişebildiği tercüman sayısı",
            "Interpreters available to the institution",
            "عدد المترجمين المتاحين للمؤسسة",
        ),
        most="1000",
        message=T(
            "0 ile 1.000 arasında bir sayı girin.",
            "Enter a number from 0 to 1,000.",
            "أدخل رقمًا من 0 إلى 1,000.",
        ),
    ),
    Q(
        "select_multiple language",
        "interpreter_languages",
        T(
            "Tercüme yapılabilen diller",
            "Languages covered by interpreters",
            "اللغات التي يغطيها المترجمون",
        ),
        required=True,
        relevant="${interpreters} > 0",
    ),
    count(
        "staff_trained",
        T(
            "Son 12 ayda göç konularında eğitim almış personel sayısı",
            "Staff trained on migration topics in the last 12 months",
            "عدد الموظفين الذين تلقوا تدريبًا على مواضيع الهجرة خلال الأشهر الاثني عشر الماضية",
        ),
        most="${staff_migration}",
        message=T(
            "Bu sayı göçle ilgili işlerde çalışan personel sayısını aşamaz.",
            "This number cannot exceed the staff working on migration.",
            "لا يمكن أن يتجاوز هذا العدد عدد الموظفين العاملين في مجال الهجرة.",
        ),
    ),
    Q(
        "calculate",
        "share_trained",
        calculation="if(${staff_migration} > 0, round(${staff_trained} div ${staff_migration} * 100, 0), '')",
    ),
    Q(
        "select_multiple topic",
        "training_received",
        T(
            "Alınan eğitimlerin konuları",
            "Topics of the training received",
            "مواضيع التدريب الذي تم تلقيه",
        ),
        required=True,
        relevant="${staff_trained} > 0",
    ),
    Q(
        "select_one turnover",
        "staff_turnover",
        T("Personel devir hızı", "Staff turnover", "معدل دوران الموظفين"),
        required=True,
    ),
    end_group(),
]

NEEDS = [
    section(
        "training_needs",
        T("Eğitim ihtiyaçları", "Training needs", "الاحتياجات التدريبية"),
        appearance="field-list",
    ),
    note(
        "needs_note",
        T(
            "Her konu için kurumunuzun eğitim ihtiyacını belirtin.",
            "For each topic, state your institution's need for training.",
            "حدّدوا حاجة مؤسستكم إلى التدريب في كل موضوع.",
        ),
    ),
    *(
        Q("select_one need_level", f"need_{name}", label, required=True)
        for name, label in lists.TOPICS
    ),
    Q(
        "select_multiple training_format",
        "training_formats",
        T("Tercih edilen eğitim biçimleri", "Preferred training formats", "أشكال التدريب المفضّلة"),
        required=True,
    ),
    count(
        "trainees_next_year",
        T(
            "Önümüzdeki 12 ayda eğitime katılabilecek personel sayısı",
            "Staff who could attend training in the next 12 months",
            "عدد الموظفين الذين يمكنهم حضور التدريب خلال الأشهر الاثني عشر المقبلة",
        ),
        most=STAFF_BOUND,
        message=NOT_MORE_THAN_STAFF,
    ),
    end_group(),
]

EQUIPMENT = [
    section("equipment", T("Ekipman ve sistemler", "Equipment and systems", "المعدات والأنظمة")),
    Q(
        "select_multiple equipment",
        "equipment_available",
        T("Mevcut ekipman", "Equipment available", "المعدات المتوفرة"),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "select_one condition",
        "equipment_condition",
        T("Ekipmanın genel durumu", "General condition of the equipment", "الحالة العامة للمعدات"),
        required=True,
        relevant="not(selected(${equipment_available}, 'none'))",
    ),
    Q(
        "select_multiple system",
        "systems_used",
        T("Kullanılan bilgi sistemleri", "Information systems used", "نظم المعلومات المستخدمة"),
        required=True,
    ),
    Q(
        "text",
        "systems_other",
        SPECIFY,
        required=True,
        relevant="selected(${systems_used}, 'other')",
        pii="sensitive",
    ),
    Q(
        "select_multiple data_protection",
        "data_protection_measures",
        T(
            "Kişisel verilerin korunmasına yönelik önlemler",
            "Personal data protection measures in place",
            "تدابير حماية البيانات الشخصية المعمول بها",
        ),
        required=True,
        constraint=none_alone(),
        constraint_message=NONE_ALONE,
    ),
    Q(
        "text",
        "equipment_gaps",
        T(
            "En kritik ekipman veya sistem eksikleri",
            "Most critical gaps in equipment or systems",
            "أهم النواقص في المعدات أو الأنظمة",
        ),
        appearance="multiline",
        pii="sensitive",
    ),
    end_group(),
]

OPERATIONS = [
    section("operations", T("Operasyonel kapasite", "Operational capacity", "القدرات التشغيلية")),
    count(
        "caseload_month",
        T(
            "Ayda ortalama işlem yapılan veya hizmet verilen kişi sayısı",
            "Average number of persons processed or served per month",
            "متوسط عدد الأشخاص الذين تتم معالجة ملفاتهم أو خدمتهم شهريًا",
        ),
        most="100000",
        message=T(
            "0 ile 100.000 arasında bir sayı girin.",
            "Enter a number from 0 to 100,000.",
            "أدخل رقمًا من 0 إلى 100,000.",
        ),
    ),
    Q(
        "select_multiple challenge",
        "operational_challenges",
        T(
            "Başlıca operasyonel güçlükler",
            "Main operational challenges",
            "أبرز التحديات التشغيلية",
        ),
        required=True,
    ),
    end_group(),
]

PRIORITIES = [
    section("priorities", T("Öncelikler", "Priorities", "الأولويات")),
    Q(
        "select_one priority",
        "priority_1",
        T("Birinci öncelik", "First priority", "الأولوية الأولى"),
        required=True,
    ),
    Q(
        "select_one priority",
        "priority_2",
        T("İkinci öncelik", "Second priority", "الأولوية الثانية"),
        required=True,
        choice_filter="name != ${priority_1}",
    ),
    Q(
        "select_one priority",
        "priority_3",
        T("Üçüncü öncelik", "Third priority", "الأولوية الثالثة"),
        required=True,
        choice_filter="name != ${priority_1} and name != ${priority_2}",
    ),
    Q(
        "text",
        "comments",
        T(
            "Eklemek istedikleriniz",
            "Anything else you would like to add",
            "هل لديكم ما تودّون إضافته؟",
        ),
        appearance="multiline",
        pii="sensitive",
    ),
    note(
        "closing_note",
        T(
            "Değerlendirme tamamlandı. Katılımınız için teşekkür ederiz.",
            "The assessment is complete. Thank you for taking part.",
            "اكتمل التقييم. شكرًا لمشاركتكم.",
        ),
    ),
    end_group(),
]

SURVEY = Survey(
    settings={
        "form_title": "Kurumsal Kapasite İhtiyaç Değerlendirmesi (Capacity-needs assessment)",
        "form_id": "capacity_needs",
        "version": "2026112301",
        "name": "capacity_needs",
        "default_language": DEFAULT_LANGUAGE,
    },
    survey=[
        *ADMIN,
        *INSTITUTION,
        *RESPONDENT,
        *INSTITUTIONAL,
        *HUMAN,
        *NEEDS,
        *EQUIPMENT,
        *OPERATIONS,
        *PRIORITIES,
    ],
    choices=[*YES_NO, *YES_NO_UNKNOWN, *REGIONS, *PROVINCES, *LANGUAGES_SPOKEN, *lists.ALL],
)
