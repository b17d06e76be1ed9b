"""Choice lists of the mixed-migration profiling survey."""

# ruff: noqa: E501 - a table of translated labels reads best with one choice per line.

from __future__ import annotations

from forms.surveys._source.common import NONE, OTHER, REFUSED
from forms.surveys._source.dsl import C, T, choices

DONT_KNOW = T("Bilinmiyor", "Unknown", "غير معروف")

LOCATION_TYPE = choices(
    "location_type",
    ("pmm_office", T("İl Göç İdaresi Müdürlüğü", "Provincial Directorate of Migration Management", "مديرية إدارة الهجرة في الولاية")),
    ("removal_centre", T("Geri gönderme merkezi", "Removal centre", "مركز الترحيل")),
    ("border_area", T("Sınır bölgesi", "Border area", "منطقة حدودية")),
    ("coastal_area", T("Kıyı bölgesi", "Coastal area", "منطقة ساحلية")),
    ("accommodation_centre", T("Geçici barınma merkezi", "Temporary accommodation centre", "مركز إيواء مؤقت")),
    ("community", T("Kentsel alan (topluluk içinde)", "Urban area (in the community)", "منطقة حضرية (داخل المجتمع)")),
    ("ngo_office", T("Sivil toplum kuruluşu ofisi", "NGO office", "مكتب منظمة غير حكومية")),
    ("other", OTHER),
)  # fmt: skip

MARITAL = choices(
    "marital",
    ("single", T("Bekâr", "Single", "أعزب/عزباء")),
    ("married", T("Evli", "Married", "متزوج/متزوجة")),
    ("widowed", T("Eşi vefat etmiş", "Widowed", "أرمل/أرملة")),
    ("divorced", T("Boşanmış veya ayrı yaşıyor", "Divorced or separated", "مطلق أو منفصل")),
    ("not_stated", T("Belirtilmedi", "Not stated", "غير مذكور")),
)

EDUCATION = choices(
    "education",
    ("none", T("Örgün eğitim almamış", "No formal education", "لا تعليم نظامي")),
    ("primary", T("İlkokul", "Primary school", "المرحلة الابتدائية")),
    ("secondary", T("Ortaokul veya lise", "Secondary school", "المرحلة الإعدادية أو الثانوية")),
    ("vocational", T("Meslek eğitimi", "Vocational training", "تدريب مهني")),
    ("university", T("Üniversite", "University", "جامعة")),
    ("not_stated", T("Belirtilmedi", "Not stated", "غير مذكور")),
)

PROFILE = choices(
    "profile",
    ("asylum_seeker", T("Sığınmacı (uluslararası koruma arayan)", "Asylum seeker", "طالب لجوء")),
    ("refugee", T("Mülteci", "Refugee", "لاجئ")),
    ("trafficking_victim", T("İnsan ticareti mağduru", "Victim of trafficking", "ضحية اتجار بالبشر")),
    ("smuggled_migrant", T("Göçmen kaçakçılığına maruz kalmış göçmen", "Smuggled migrant", "مهاجر تم تهريبه")),
    ("economic_migrant", T("Ekonomik göçmen", "Economic migrant", "مهاجر اقتصادي")),
    ("uasc", T("Refakatsiz veya ailesinden ayrı düşmüş çocuk", "Unaccompanied or separated child", "طفل غير مصحوب أو منفصل عن ذويه")),
    ("stateless", T("Vatansız kişi", "Stateless person", "شخص عديم الجنسية")),
    ("other", OTHER),
)  # fmt: skip

STATUS_TR = choices(
    "status_tr",
    ("temporary_protection", T("Geçici koruma", "Temporary protection", "الحماية المؤقتة")),
    ("ip_applicant", T("Uluslararası koruma başvuru sahibi", "International protection applicant", "طالب حماية دولية")),
    ("ip_status", T("Uluslararası koruma statüsü sahibi", "Holder of international protection status", "حاصل على وضع الحماية الدولية")),
    ("residence_permit", T("İkamet izni sahibi", "Residence permit holder", "حاصل على تصريح إقامة")),
    ("no_status", T("Yasal statüsü yok", "No legal status", "بلا وضع قانوني")),
    ("dont_know", DONT_KNOW),
)  # fmt: skip

ACCOMPANIMENT = choices(
    "accompaniment",
    ("unaccompanied", T("Refakatsiz (yanında yetişkin yok)", "Unaccompanied (no adult)", "غير مصحوب (دون أي بالغ)")),
    ("separated", T("Ailesinden ayrı düşmüş (başka bir yetişkinle)", "Separated (with another adult)", "منفصل عن ذويه (مع بالغ آخر)")),
    ("with_parent", T("Anne, baba veya yasal vasisiyle", "With a parent or legal guardian", "مع أحد الوالدين أو الوصي القانوني")),
)  # fmt: skip

ENTRY_POINT = choices(
    "entry_point",
    ("land_iran", T("Kara sınırı: İran", "Land border: Iran", "الحدود البرية: إيران")),
    ("land_iraq", T("Kara sınırı: Irak", "Land border: Iraq", "الحدود البرية: العراق")),
    ("land_syria", T("Kara sınırı: Suriye", "Land border: Syria", "الحدود البرية: سوريا")),
    ("land_other", T("Diğer kara sınırı", "Another land border", "حدود برية أخرى")),
    ("airport", T("Havalimanı", "Airport", "مطار")),
    ("sea", T("Deniz yolu", "By sea", "عن طريق البحر")),
    ("dont_know", DONT_KNOW),
)

ENTRY_MODE = choices(
    "entry_mode",
    ("regular", T("Düzenli (geçerli belgeyle)", "Regular (with valid documents)", "نظامي (بوثائق سارية)")),
    ("irregular", T("Düzensiz", "Irregular", "غير نظامي")),
    ("refused", REFUSED),
)  # fmt: skip

TRANSPORT = choices(
    "transport",
    ("on_foot", T("Yürüyerek", "On foot", "سيرًا على الأقدام")),
    ("bus", T("Otobüs", "Bus", "حافلة")),
    ("car_truck", T("Otomobil veya kamyon", "Car or truck", "سيارة أو شاحنة")),
    ("boat", T("Tekne", "Boat", "قارب")),
    ("air", T("Uçak", "Aeroplane", "طائرة")),
    ("train", T("Tren", "Train", "قطار")),
)

INCIDENT = choices(
    "incident",
    ("violence", T("Fiziksel şiddet", "Physical violence", "عنف جسدي")),
    ("sexual_violence", T("Cinsel şiddet", "Sexual violence", "عنف جنسي")),
    ("robbery", T("Soygun", "Robbery", "سرقة")),
    ("detention", T("Alıkonulma veya gözaltı", "Detention", "احتجاز")),
    ("pushback", T("Sınırda geri itilme", "Pushed back at a border", "الإعادة القسرية عند الحدود")),
    ("abandonment", T("Kaçakçılar tarafından terk edilme", "Abandoned by smugglers", "تخلّي المهربين عنه")),
    ("witnessed_death", T("Bir ölüme tanık olma", "Witnessed a death", "مشاهدة حالة وفاة")),
    ("none", NONE),
)  # fmt: skip

DOCUMENT = choices(
    "document",
    ("passport", T("Pasaport", "Passport", "جواز سفر")),
    ("national_id", T("Ulusal kimlik kartı", "National identity card", "بطاقة هوية وطنية")),
    ("birth_certificate", T("Doğum belgesi", "Birth certificate", "شهادة ميلاد")),
    ("tp_id", T("Geçici koruma kimlik belgesi", "Temporary protection identification document", "وثيقة هوية الحماية المؤقتة")),
    ("ip_applicant_id", T("Uluslararası koruma başvuru sahibi kimlik belgesi", "International protection applicant identification document", "وثيقة هوية طالب الحماية الدولية")),
    ("residence_permit", T("İkamet izni kartı", "Residence permit card", "بطاقة تصريح الإقامة")),
    ("travel_document", T("Seyahat belgesi", "Travel document", "وثيقة سفر")),
    ("none", NONE),
)  # fmt: skip

DOCUMENT_CONDITION = choices(
    "document_condition",
    ("intact", T("Sağlam, şüphe yok", "Intact, no concerns", "سليمة، ولا توجد مخاوف")),
    ("damaged", T("Hasarlı", "Damaged", "تالفة")),
    ("expired", T("Süresi dolmuş", "Expired", "منتهية الصلاحية")),
    ("suspected_fraud", T("Sahte veya tahrif edilmiş olduğundan şüpheleniliyor", "Suspected fraudulent or altered", "يُشتبه في أنها مزورة أو معدّلة")),
    ("not_shown", T("Gösterilmedi", "Not shown", "لم تُعرض")),
)  # fmt: skip

FRAUD_INDICATOR = choices(
    "fraud_indicator",
    ("photo_substitution", T("Fotoğraf değiştirilmiş", "Photo substituted", "استبدال الصورة")),
    ("altered_data", T("Kimlik bilgileri sayfasında değişiklik", "Biodata page altered", "تعديل صفحة البيانات الشخصية")),
    ("security_features", T("Güvenlik özellikleri (UV, filigran, hologram) tutarsız", "Security features (UV, watermark, hologram) inconsistent", "عناصر الأمان (الأشعة فوق البنفسجية، العلامة المائية، الصورة المجسمة) غير متطابقة")),
    ("impostor", T("Belge hamili, belgenin gerçek sahibi olmayabilir", "Holder may not be the rightful owner (impostor)", "قد لا يكون حاملها صاحبها الحقيقي (انتحال شخصية)")),
    ("forged_stamps", T("Sahte vize veya giriş-çıkış mührü", "Counterfeit visa or entry/exit stamps", "تأشيرة أو أختام دخول وخروج مزورة")),
    ("inconsistent_account", T("Bilgiler kişinin anlattıklarıyla tutarsız", "Data inconsistent with the person's account", "البيانات لا تتطابق مع إفادة الشخص")),
)  # fmt: skip

VULNERABILITY = choices(
    "vulnerability",
    ("uasc", T("Refakatsiz veya ailesinden ayrı düşmüş çocuk", "Unaccompanied or separated child", "طفل غير مصحوب أو منفصل عن ذويه")),
    ("single_parent", T("Tek ebeveyn", "Single parent", "والد وحيد أو والدة وحيدة")),
    ("pregnant", T("Hamile veya emziren", "Pregnant or breastfeeding", "حامل أو مرضعة")),
    ("older_person", T("Yaşlı (60 yaş ve üzeri)", "Older person (60 or over)", "مسنّ (60 عامًا فأكثر)")),
    ("disability", T("Engelli", "Person with a disability", "شخص ذو إعاقة")),
    ("serious_illness", T("Ciddi sağlık sorunu", "Serious medical condition", "حالة طبية خطيرة")),
    ("torture_survivor", T("İşkence veya şiddet mağduru", "Survivor of torture or violence", "ناجٍ من التعذيب أو العنف")),
    ("gbv_survivor", T("Toplumsal cinsiyete dayalı şiddet mağduru", "Survivor of gender-based violence", "ناجٍ من العنف القائم على النوع الاجتماعي")),
    ("mental_health", T("Ruh sağlığı desteği ihtiyacı", "Mental health need", "حاجة إلى دعم الصحة النفسية")),
    ("none", NONE),
)  # fmt: skip

FEAR_REASON = choices(
    "fear_reason",
    ("persecution", T("Zulüm (ırk, din, tabiiyet, siyasi düşünce veya belirli bir toplumsal grup)", "Persecution (race, religion, nationality, political opinion or a particular social group)", "الاضطهاد (العرق أو الدين أو الجنسية أو الرأي السياسي أو الانتماء إلى فئة اجتماعية معينة)")),
    ("conflict", T("Silahlı çatışma veya yaygın şiddet", "Armed conflict or generalised violence", "نزاع مسلح أو عنف معمّم")),
    ("family_threats", T("Aile veya topluluk kaynaklı tehdit", "Threats from family or community", "تهديدات من العائلة أو المجتمع")),
    ("forced_recruitment", T("Silahlı gruplara zorla katılım", "Forced recruitment by armed groups", "التجنيد القسري من قبل جماعات مسلحة")),
    ("other", OTHER),
)  # fmt: skip

NEED = choices(
    "need",
    ("shelter", T("Barınma", "Shelter", "مأوى")),
    ("food", T("Gıda", "Food", "غذاء")),
    ("health", T("Sağlık hizmeti", "Health care", "رعاية صحية")),
    ("psychosocial", T("Psikososyal destek", "Psychosocial support", "دعم نفسي واجتماعي")),
    ("legal", T("Hukuki yardım", "Legal assistance", "مساعدة قانونية")),
    ("family_tracing", T("Aile bireylerinin bulunması", "Family tracing", "البحث عن أفراد الأسرة")),
    ("child_protection", T("Çocuk koruma", "Child protection", "حماية الطفل")),
    ("documentation", T("Belge işlemleri", "Documentation", "استخراج الوثائق")),
    ("none", NONE),
)

RECRUITMENT = choices(
    "recruitment",
    ("deceptive_job", T("Aldatıcı iş teklifi", "Deceptive job offer", "عرض عمل مضلِّل")),
    ("deceived_conditions", T("Çalışma koşulları konusunda aldatılma", "Deceived about working conditions", "الخداع بشأن ظروف العمل")),
    ("abduction", T("Kaçırılma", "Abduction", "الاختطاف")),
    ("sold", T("Başkaları tarafından satılma", "Sold by others", "البيع من قبل آخرين")),
    ("marriage", T("Zorla veya aldatılarak evlendirilme", "Forced or deceptive marriage", "زواج قسري أو بالخداع")),
    ("none", NONE),
    ("refused", REFUSED),
)  # fmt: skip

EXPLOITATION = choices(
    "exploitation",
    ("forced_labour", T("Zorla çalıştırma", "Forced labour", "العمل القسري")),
    ("sexual", T("Cinsel sömürü", "Sexual exploitation", "الاستغلال الجنسي")),
    ("begging", T("Zorla dilendirme", "Forced begging", "التسوّل القسري")),
    ("domestic", T("Ev içi kölelik", "Domestic servitude", "العبودية المنزلية")),
    ("criminality", T("Zorla suç işletme", "Forced criminality", "الإجبار على ارتكاب الجرائم")),
    ("forced_marriage", T("Zorla evlendirme", "Forced marriage", "الزواج القسري")),
    ("organ_removal", T("Organ alınması", "Organ removal", "نزع الأعضاء")),
    ("none", NONE),
    ("refused", REFUSED),
)

CONTROL = choices(
    "control",
    ("threats", T("Kendisine veya ailesine tehdit", "Threats against the person or family", "تهديدات ضد الشخص أو عائلته")),
    ("violence", T("Fiziksel şiddet", "Physical violence", "عنف جسدي")),
    ("confinement", T("Alıkoyma veya hareket özgürlüğünün kısıtlanması", "Confinement or restricted movement", "الاحتجاز أو تقييد الحركة")),
    ("documents_taken", T("Belgelerine el konulması", "Documents confiscated", "مصادرة الوثائق")),
    ("debt_bondage", T("Borç esareti", "Debt bondage", "عبودية الدَّين")),
    ("wages_withheld", T("Ücretin ödenmemesi", "Wages withheld", "حجب الأجور")),
    ("isolation", T("Dış dünyadan yalıtılma", "Isolation from others", "العزل عن الآخرين")),
    ("none", NONE),
    ("refused", REFUSED),
)  # fmt: skip

INTENTION = choices(
    "intention",
    ("stay", T("Türkiye'de kalmak", "Stay in Türkiye", "البقاء في تركيا")),
    ("onward", T("Başka bir ülkeye gitmek", "Move on to another country", "الانتقال إلى بلد آخر")),
    (
        "return",
        T("Menşe ülkeye dönmek", "Return to the country of origin", "العودة إلى بلد المنشأ"),
    ),
    ("undecided", T("Kararsız", "Undecided", "لم يقرر بعد")),
)

INTENTION_REASON = choices(
    "intention_reason",
    ("family", T("Aile birleşimi", "Family reunification", "لمّ شمل الأسرة")),
    ("work", T("İş ve geçim", "Work and livelihood", "العمل وكسب العيش")),
    ("safety", T("Güvenlik", "Safety", "الأمان")),
    ("education", T("Eğitim", "Education", "التعليم")),
    ("community", T("Akraba veya topluluk bağları", "Relatives or community ties", "روابط الأقارب أو المجتمع")),
    ("services", T("Hizmetlere erişim", "Access to services", "الوصول إلى الخدمات")),
    ("other", OTHER),
)  # fmt: skip

RELATIONSHIP = choices(
    "relationship",
    ("spouse", T("Eş", "Spouse", "الزوج أو الزوجة")),
    ("child", T("Çocuk", "Child", "ابن أو ابنة")),
    ("parent", T("Anne veya baba", "Parent", "أحد الوالدين")),
    ("sibling", T("Kardeş", "Sibling", "أخ أو أخت")),
    ("other_relative", T("Diğer akraba", "Other relative", "قريب آخر")),
    ("non_relative", T("Akraba değil", "Not related", "ليس من الأقارب")),
)

REFERRAL_TO = choices(
    "referral_to",
    ("pmm", T("İl Göç İdaresi Müdürlüğü", "Provincial Directorate of Migration Management", "مديرية إدارة الهجرة في الولاية")),
    ("unhcr", T("BM Mülteciler Yüksek Komiserliği (UNHCR)", "UNHCR", "المفوضية السامية للأمم المتحدة لشؤون اللاجئين")),
    ("iom", T("Uluslararası Göç Örgütü (IOM)", "International Organization for Migration (IOM)", "المنظمة الدولية للهجرة")),
    ("social_services", T("Aile ve Sosyal Hizmetler İl Müdürlüğü", "Provincial Directorate of Family and Social Services", "مديرية الأسرة والخدمات الاجتماعية في الولاية")),
    ("health", T("Sağlık kuruluşu", "Health facility", "مرفق صحي")),
    ("legal_aid", T("Baro adli yardım bürosu", "Bar association legal aid office", "مكتب المساعدة القانونية في نقابة المحامين")),
    ("child_protection", T("Çocuk koruma hizmetleri", "Child protection services", "خدمات حماية الطفل")),
    ("ngo", T("Sivil toplum kuruluşu", "Non-governmental organisation", "منظمة غير حكومية")),
    ("anti_trafficking", T("Kolluk: insan ticaretiyle mücadele birimi", "Law enforcement: anti-trafficking unit", "جهات إنفاذ القانون: وحدة مكافحة الاتجار بالبشر")),
    ("other", OTHER),
)  # fmt: skip

URGENCY = choices(
    "urgency",
    ("immediate", T("Acil (hemen)", "Immediate", "فوري")),
    ("within_72h", T("72 saat içinde", "Within 72 hours", "خلال 72 ساعة")),
    ("routine", T("Olağan", "Routine", "اعتيادي")),
)

NO_REFERRAL_REASON = choices(
    "no_referral_reason",
    ("not_needed", T("Gerek yok", "Not needed", "غير ضروري")),
    ("declined", T("Kişi kabul etmedi", "The person declined", "رفض الشخص")),
    ("unavailable", T("Hizmet mevcut değil", "Service not available", "الخدمة غير متاحة")),
)

ALL: list[C] = [
    *LOCATION_TYPE, *MARITAL, *EDUCATION, *PROFILE, *STATUS_TR, *ACCOMPANIMENT, *ENTRY_POINT,
    *ENTRY_MODE, *TRANSPORT, *INCIDENT, *DOCUMENT, *DOCUMENT_CONDITION, *FRAUD_INDICATOR,
    *VULNERABILITY, *FEAR_REASON, *NEED, *RECRUITMENT, *EXPLOITATION, *CONTROL, *INTENTION,
    *INTENTION_REASON, *RELATIONSHIP, *REFERRAL_TO, *URGENCY, *NO_REFERRAL_REASON,
]  # fmt: skip
