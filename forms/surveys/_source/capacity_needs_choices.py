"""Choice lists of the institutional capacity-needs assessment."""

# ruff: noqa: E501 - a table of translated labels reads best with one choice per line.

from __future__ import annotations

from forms.surveys._source.common import NONE, OTHER
from forms.surveys._source.dsl import C, T, choices

INSTITUTION_TYPE = choices(
    "institution_type",
    ("ministry_unit", T("Bakanlık merkez birimi", "Ministry unit (central)", "وحدة وزارية (مركزية)")),
    ("pmm", T("İl Göç İdaresi Müdürlüğü", "Provincial Directorate of Migration Management", "مديرية إدارة الهجرة في الولاية")),
    ("removal_centre", T("Geri gönderme merkezi", "Removal centre", "مركز الترحيل")),
    ("coast_guard", T("Sahil Güvenlik Komutanlığı birimi", "Coast Guard unit", "وحدة خفر السواحل")),
    ("border_unit", T("Sınır birimi veya sınır kapısı", "Border unit or border crossing point", "وحدة حدودية أو معبر حدودي")),
    ("police", T("Emniyet: Yabancılar şube", "Police: foreigners' branch", "الشرطة: شعبة الأجانب")),
    ("gendarmerie", T("Jandarma", "Gendarmerie", "الدرك")),
    ("municipality", T("Belediye", "Municipality", "البلدية")),
    ("ngo", T("Sivil toplum kuruluşu", "Non-governmental organisation", "منظمة غير حكومية")),
    ("bar_association", T("Baro", "Bar association", "نقابة المحامين")),
    ("other", OTHER),
)  # fmt: skip

INSTITUTION_LEVEL = choices(
    "institution_level",
    ("central", T("Merkez", "Central", "مركزي")),
    ("regional", T("Bölge", "Regional", "إقليمي")),
    ("provincial", T("İl", "Provincial", "على مستوى الولاية")),
    ("district", T("İlçe", "District", "على مستوى القضاء")),
    ("border_post", T("Sınır kapısı veya sınır karakolu", "Border crossing or border post", "معبر حدودي أو مخفر حدودي")),
)  # fmt: skip

RESPONDENT_ROLE = choices(
    "respondent_role",
    ("head", T("Kurum veya birim amiri", "Head of institution or unit", "رئيس المؤسسة أو الوحدة")),
    ("manager", T("Yönetici", "Manager", "مدير")),
    ("specialist", T("Uzman", "Specialist", "اختصاصي")),
    ("field_staff", T("Saha personeli", "Field staff", "موظف ميداني")),
    ("trainer", T("Eğitmen", "Trainer", "مدرّب")),
    ("other", OTHER),
)

MANDATE = choices(
    "mandate",
    ("core", T("Temel görevi", "Core mandate", "مهمة أساسية")),
    ("partial", T("Görevlerinden biri", "One of several tasks", "إحدى المهام")),
    ("indirect", T("Dolaylı", "Indirect", "غير مباشرة")),
)

YES_PARTLY_NO = choices(
    "yes_partly_no",
    ("yes", T("Evet", "Yes", "نعم")),
    ("partly", T("Kısmen", "Partly", "جزئيًا")),
    ("no", T("Hayır", "No", "لا")),
)

PARTNER = choices(
    "partner",
    ("pmm_hq", T("Göç İdaresi Başkanlığı", "Presidency of Migration Management", "رئاسة إدارة الهجرة")),
    ("governorship", T("Valilik", "Governorship", "مكتب الوالي")),
    ("law_enforcement", T("Kolluk birimleri", "Law enforcement", "جهات إنفاذ القانون")),
    ("un_agencies", T("BM kuruluşları", "UN agencies", "وكالات الأمم المتحدة")),
    ("ngos", T("Sivil toplum kuruluşları", "Non-governmental organisations", "المنظمات غير الحكومية")),
    ("municipalities", T("Belediyeler", "Municipalities", "البلديات")),
    ("bar_associations", T("Barolar", "Bar associations", "نقابات المحامين")),
    ("health_social", T("Sağlık ve sosyal hizmet kurumları", "Health and social services", "مؤسسات الخدمات الصحية والاجتماعية")),
    ("none", NONE),
)  # fmt: skip

RATING = choices(
    "rating",
    ("1", T("1: Çok zayıf", "1: Very weak", "1: ضعيف جدًا")),
    ("2", T("2: Zayıf", "2: Weak", "2: ضعيف")),
    ("3", T("3: Orta", "3: Fair", "3: متوسط")),
    ("4", T("4: İyi", "4: Good", "4: جيد")),
    ("5", T("5: Çok iyi", "5: Very good", "5: جيد جدًا")),
)

# Training topics: (choice name, label). Each becomes a choice and a need-level question.
TOPICS = (
    ("mixed_migration", T("Karma göç ve farklı koruma ihtiyaçları olan göçmen profilleri", "Mixed migration and migrant profiles with different protection needs", "الهجرة المختلطة وفئات المهاجرين ذات احتياجات الحماية المختلفة")),
    ("vulnerability_referral", T("Kırılgan kişilerin tespiti ve yönlendirilmesi", "Identifying and referring vulnerable persons", "تحديد الأشخاص المستضعفين وإحالتهم")),
    ("fraudulent_documents", T("Sahte ve tahrif edilmiş seyahat belgelerinin tespiti", "Detecting fraudulent and altered travel documents", "كشف وثائق السفر المزورة والمعدّلة")),
    ("law_6458", T("6458 sayılı Yabancılar ve Uluslararası Koruma Kanunu (2013) ve göç idaresi yapısı", "Law No. 6458 on Foreigners and International Protection (2013) and the migration administration", "القانون رقم 6458 بشأن الأجانب والحماية الدولية (2013) وهيكل إدارة الهجرة")),
    ("international_protection", T("Uluslararası koruma başvuru ve değerlendirme usulleri", "International protection application and assessment procedures", "إجراءات طلب الحماية الدولية وتقييمها")),
    ("readmission", T("Türkiye-AB Geri Kabul Anlaşması kapsamında geri kabul", "Readmission under the EU–Türkiye Readmission Agreement", "إعادة القبول بموجب اتفاقية إعادة القبول بين تركيا والاتحاد الأوروبي")),
    ("return", T("Geri gönderme ve gönüllü geri dönüş", "Return and assisted voluntary return", "الترحيل والعودة الطوعية بمساعدة")),
    ("integration", T("Uyum (sosyal uyum ve entegrasyon)", "Harmonisation and integration", "الاندماج والتماسك الاجتماعي")),
    ("border_management", T("Entegre sınır yönetimi", "Integrated border management", "الإدارة المتكاملة للحدود")),
    ("trafficking_smuggling", T("İnsan ticareti ve göçmen kaçakçılığıyla mücadele", "Countering trafficking in persons and migrant smuggling", "مكافحة الاتجار بالبشر وتهريب المهاجرين")),
    ("data_protection", T("Güvenli veri toplama ve kişisel verilerin korunması (6698 sayılı Kanun)", "Secure data collection and personal data protection (Law No. 6698)", "جمع البيانات الآمن وحماية البيانات الشخصية (القانون رقم 6698)")),
    ("interviewing", T("Görüşme teknikleri ve tercümanla çalışma", "Interviewing techniques and working with interpreters", "تقنيات المقابلة والعمل مع المترجمين")),
)  # fmt: skip
TOPIC = [C("topic", name, label) for name, label in TOPICS]

NEED_LEVEL = choices(
    "need_level",
    ("none", T("İhtiyaç yok", "No need", "لا حاجة")),
    ("low", T("Düşük", "Low", "منخفضة")),
    ("medium", T("Orta", "Medium", "متوسطة")),
    ("high", T("Yüksek", "High", "مرتفعة")),
)

TRAINING_FORMAT = choices(
    "training_format",
    ("classroom", T("Sınıf içi eğitim", "Classroom training", "تدريب حضوري")),
    ("online", T("Çevrim içi eğitim", "Online training", "تدريب عبر الإنترنت")),
    ("mentoring", T("İş başında rehberlik", "On-the-job mentoring", "إرشاد أثناء العمل")),
    ("study_visit", T("Çalışma ziyareti", "Study visit", "زيارة دراسية")),
    ("tot", T("Eğiticilerin eğitimi", "Training of trainers", "تدريب المدربين")),
    ("simulation", T("Uygulamalı tatbikat", "Simulation exercise", "تمرين محاكاة")),
)

EQUIPMENT = choices(
    "equipment",
    ("document_kit", T("Belge inceleme seti (UV lamba, büyüteç)", "Document examination kit (UV lamp, magnifier)", "أدوات فحص الوثائق (مصباح الأشعة فوق البنفسجية، عدسة مكبّرة)")),
    ("vsc", T("Video spektral karşılaştırıcı", "Video spectral comparator", "جهاز المقارنة الطيفية بالفيديو")),
    ("biometric", T("Biyometrik kayıt cihazı (parmak izi)", "Biometric enrolment device (fingerprints)", "جهاز التسجيل البيومتري (بصمات الأصابع)")),
    ("computers", T("Bilgisayar", "Computers", "حواسيب")),
    ("tablets", T("Mobil cihaz veya tablet", "Mobile devices or tablets", "أجهزة محمولة أو لوحية")),
    ("vehicles", T("Araç", "Vehicles", "مركبات")),
    ("connectivity", T("Güvenilir internet bağlantısı", "Reliable internet connection", "اتصال موثوق بالإنترنت")),
    ("remote_interpreting", T("Uzaktan tercüme olanağı", "Remote interpretation", "الترجمة الفورية عن بُعد")),
    ("interview_rooms", T("Kabul ve görüşme alanı", "Reception and interview rooms", "أماكن للاستقبال والمقابلات")),
    ("none", NONE),
)  # fmt: skip

CONDITION = choices(
    "condition",
    ("good", T("İyi", "Good", "جيدة")),
    ("adequate", T("Yeterli", "Adequate", "مقبولة")),
    ("poor", T("Kötü", "Poor", "سيئة")),
)

SYSTEM = choices(
    "system",
    ("goc_net", T("GöçNet (göç vaka yönetim sistemi)", "GöçNet (migration case-management system)", "نظام GöçNet (نظام إدارة حالات الهجرة)")),
    ("institutional_db", T("Kurum içi veri tabanı", "Institutional database", "قاعدة بيانات مؤسسية")),
    ("mobile_collection", T("Mobil veri toplama (ör. ODK, KoboToolbox)", "Mobile data collection (e.g. ODK, KoboToolbox)", "جمع البيانات عبر الأجهزة المحمولة (مثل ODK وKoboToolbox)")),
    ("spreadsheets", T("Elektronik tablolar", "Spreadsheets", "جداول بيانات")),
    ("paper", T("Kâğıt kayıtlar", "Paper records", "سجلات ورقية")),
    ("other", OTHER),
)  # fmt: skip

DATA_PROTECTION = choices(
    "data_protection",
    ("access_control", T("Role dayalı erişim yetkilendirmesi", "Role-based access control", "التحكم في الوصول حسب الأدوار")),
    ("encryption", T("Verilerin şifrelenmesi", "Encryption of data", "تشفير البيانات")),
    ("kvkk_training", T("6698 sayılı Kanun (KVKK) eğitimi", "Training on Law No. 6698 on personal data protection", "التدريب على القانون رقم 6698 لحماية البيانات الشخصية")),
    ("retention_policy", T("Saklama ve imha politikası", "Retention and disposal policy", "سياسة الاحتفاظ بالبيانات وإتلافها")),
    ("consent_procedure", T("Aydınlatma ve açık rıza prosedürü", "Information and consent procedure", "إجراءات الإعلام والموافقة")),
    ("none", NONE),
)  # fmt: skip

TURNOVER = choices(
    "turnover",
    ("low", T("Düşük", "Low", "منخفض")),
    ("moderate", T("Orta", "Moderate", "متوسط")),
    ("high", T("Yüksek", "High", "مرتفع")),
)

CHALLENGE = choices(
    "challenge",
    ("staff_shortage", T("Personel yetersizliği", "Staff shortage", "نقص الموظفين")),
    ("language_barriers", T("Dil engeli", "Language barriers", "الحواجز اللغوية")),
    ("interpreter_shortage", T("Tercüman eksikliği", "Shortage of interpreters", "نقص المترجمين")),
    ("budget", T("Bütçe yetersizliği", "Insufficient budget", "عدم كفاية الميزانية")),
    ("equipment", T("Ekipman eksikliği", "Lack of equipment", "نقص المعدات")),
    ("procedures", T("Belirsiz prosedürler", "Unclear procedures", "إجراءات غير واضحة")),
    ("workload", T("Yüksek iş yükü", "High workload", "عبء عمل مرتفع")),
    ("coordination", T("Kurumlar arası koordinasyon eksikliği", "Gaps in inter-agency coordination", "ثغرات في التنسيق بين المؤسسات")),
    ("referral_options", T("Yönlendirme seçeneklerinin azlığı (barınma, hizmetler)", "Few referral options (shelter, services)", "قلة خيارات الإحالة (المأوى، الخدمات)")),
    ("staff_turnover", T("Personel devir hızı", "Staff turnover", "دوران الموظفين")),
)  # fmt: skip

PRIORITY = choices(
    "priority",
    ("training", T("Personel eğitimi", "Staff training", "تدريب الموظفين")),
    ("staffing", T("Ek personel", "Additional staff", "موظفون إضافيون")),
    ("interpreters", T("Tercümanlık hizmetleri", "Interpretation services", "خدمات الترجمة الفورية")),
    ("equipment", T("Ekipman", "Equipment", "المعدات")),
    ("it_systems", T("Bilgi sistemleri ve veri yönetimi", "Information systems and data management", "نظم المعلومات وإدارة البيانات")),
    ("procedures", T("Standart işletim prosedürleri", "Standard operating procedures", "إجراءات التشغيل الموحدة")),
    ("coordination", T("Kurumlar arası koordinasyon ve yönlendirme", "Inter-agency coordination and referral", "التنسيق والإحالة بين المؤسسات")),
    ("infrastructure", T("Fiziki altyapı (kabul ve görüşme alanları)", "Premises (reception and interview space)", "البنية المادية (أماكن الاستقبال والمقابلات)")),
    ("data_protection", T("Kişisel verilerin korunması", "Personal data protection", "حماية البيانات الشخصية")),
)  # fmt: skip

ALL: list[C] = [
    *INSTITUTION_TYPE, *INSTITUTION_LEVEL, *RESPONDENT_ROLE, *MANDATE, *YES_PARTLY_NO, *PARTNER,
    *RATING, *TOPIC, *NEED_LEVEL, *TRAINING_FORMAT, *EQUIPMENT, *CONDITION, *SYSTEM,
    *DATA_PROTECTION, *TURNOVER, *CHALLENGE, *PRIORITY,
]  # fmt: skip
