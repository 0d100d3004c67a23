"""The HP-facing error catalogue: stable codes, French messages. One place for all services."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # authentication (gateway, 401)
    "TOKEN_MISSING": "Authentification requise : présentez votre carte CPS ou e-CPS.",
    "TOKEN_INVALID": "Votre jeton d'authentification est invalide ou sa signature n'est pas reconnue.",
    "TOKEN_EXPIRED": "Votre session a expiré : authentifiez-vous à nouveau.",
    "TOKEN_CLAIMS_MISSING": "Votre jeton ne précise pas votre identité professionnelle complète (RPPS, profession, structure, mode d'authentification).",
    # request validation (gateway, 4xx)
    "REQUEST_INVALID": "La demande est incomplète ou mal formée.",
    "REQUEST_NOT_FOUND": "Aucune demande ne correspond à cet identifiant.",
    "REQUEST_UNREADABLE": "Le corps de la demande n'est pas un JSON lisible (UTF-8).",
    "ROUTE_NOT_FOUND": "Cette adresse n'existe pas dans l'API Passerelle.",
    "METHOD_NOT_ALLOWED": "Cette opération n'est pas permise sur cette adresse.",
    "REQUEST_TOO_LARGE": "La demande dépasse la taille autorisée.",
    "HEADERS_TOO_LARGE": "Les en-têtes de la demande dépassent la taille autorisée.",
    "REQUEST_TIMEOUT": "Le corps de la demande n'est pas arrivé à temps : renvoyez la demande.",
    "GATEWAY_UNAVAILABLE": "Passerelle ne peut pas transmettre votre demande pour le moment. Réessayez dans quelques instants.",
    # consent (denied)
    "CONSENT_NOT_CONFIRMED": "Le consentement du patient n'a pas été confirmé.",
    "INFORMATION_NOTICE_NOT_GIVEN": "La remise de la note d'information au patient n'a pas été confirmée.",
    "PROFESSION_NOT_ELIGIBLE": "Votre profession ne permet pas d'accéder à ce service transfrontalier.",
    "ASSERTION_EXPIRED": "Votre authentification date de plus de 4 heures : authentifiez-vous à nouveau.",
    "STRONG_AUTHENTICATION_REQUIRED": "Une authentification forte (carte CPS ou e-CPS) est requise.",
    "IDENTITY_PROVIDER_UNAVAILABLE": "Votre authentification ne peut pas être vérifiée pour le moment (Pro Santé Connect injoignable). Réessayez dans quelques instants.",
    # identity of the professional (gateway 403 / consent, denied)
    "RPPS_INVALID": "Votre numéro RPPS est mal formé (11 chiffres, clé de contrôle) : vérifiez votre carte CPS.",
    "RPPS_UNKNOWN": "Votre numéro RPPS n'est pas connu du répertoire des professionnels de santé.",
    "PROFESSION_MISMATCH": "La profession indiquée par votre authentification ne correspond pas à celle du répertoire RPPS.",
    "PROFESSION_ACTIVITY_EXCLUDED": "Votre activité (médecine du travail, assurance privée, industrie) ne permet pas d'accéder aux données de santé transfrontalières.",
    "ORGANISATION_MISSING": "Votre authentification ne précise pas la structure pour laquelle vous exercez.",
    "SERVICE_NOT_ALLOWED_FOR_PROFESSION": "Votre profession ne permet pas d'utiliser ce service transfrontalier.",
    # consent registry, purpose of use (denied)
    "PATIENT_OPPOSED": "Le patient s'est opposé à cet accès.",
    "CONSENT_REVOKED": "Le patient a retiré son autorisation d'accès.",
    "CONSENT_REGISTRY_UNREADABLE": "Le registre des consentements de ce patient est illisible : accès refusé par précaution.",
    "CONSENT_REGISTRY_UNAVAILABLE": "Le registre des consentements n'a pas pu être restauré après un redémarrage : tout accès est refusé par précaution jusqu'à l'intervention d'un administrateur.",
    "EMERGENCY_NOT_ALLOWED": "Le pays du patient n'accepte pas l'accès en urgence : demandez l'accès pour traitement.",
    # treatment relationship (country A refuses)
    "TREATMENT_RELATIONSHIP_INVALID": "Le pays du patient refuse la demande : la confirmation de relation de soins est invalide ou ne concerne pas ce patient.",
    "TREATMENT_RELATIONSHIP_EXPIRED": "Le pays du patient refuse la demande : la confirmation de relation de soins date de plus de 2 heures.",
    # routing (failed)
    "COUNTRY_UNKNOWN": "Ce pays n'est pas connu du réseau MyHealth@EU.",
    "SERVICE_NOT_AVAILABLE_FOR_COUNTRY": "Ce pays ne propose pas encore ce service via MyHealth@EU.",
    # country A (failed)
    "COUNTRY_UNREACHABLE": "Le point de contact national du pays du patient ne répond pas. Réessayez plus tard.",
    "PATIENT_NOT_FOUND": "Aucun patient ne correspond à cet identifiant dans le pays indiqué.",
    "NO_CONSENT": "Le pays du patient refuse l'accès : le patient n'y a pas donné son consentement (4701).",
    "DOCUMENT_NOT_FOUND": "Le pays du patient n'a pas de synthèse médicale pour ce patient.",
    # patient identification (step 1)
    "SEVERAL_PATIENTS_FOUND": "Plusieurs patients correspondent à ces identifiants dans le pays indiqué : complétez la recherche avec la donnée demandée.",
    "MORE_DEMOGRAPHICS_NEEDED": "Le pays du patient demande d'autres données d'identification avant de répondre : complétez les champs signalés.",
    "IDENTIFICATION_FIELD_MISSING": "Un champ obligatoire de la recherche de ce pays n'est pas renseigné.",
    "IDENTIFICATION_FIELD_INVALID": "Un champ de la recherche ne respecte pas le format publié par le pays du patient.",
    "IDENTIFICATION_FIELD_UNKNOWN": "Un champ de la recherche ne fait pas partie des identifiants publiés par ce pays.",
    "IDENTIFICATION_NOT_FOUND": "Aucune recherche de patient ne correspond à cet identifiant.",
    # audit (gateway)
    "AUDIT_SCOPE_REQUIRED": "Votre jeton ne donne pas accès à la liste des accès aux données des patients (droit audit:read requis).",
    "OPS_SCOPE_REQUIRED": "Votre jeton ne donne pas accès au tableau de bord des flux (droit ops:read requis).",
    "AUDIT_STORE_UNAVAILABLE": "La liste des accès est momentanément indisponible. Réessayez dans quelques instants.",
    # ePrescription / eDispensation (issue 6)
    "PRESCRIPTION_FROM_FRANCE": "Les prescriptions établies en France ne passent pas par MyHealth@EU : utilisez les services nationaux.",
    "PRESCRIPTION_NOT_FOUND": "Cette prescription n'est pas connue : consultez d'abord les prescriptions du patient.",
    "PRESCRIPTION_STATE_UNREADABLE": "L'état des délivrances de cette prescription est illisible : aucune délivrance n'est acceptée par précaution.",
    "PRESCRIPTION_STATE_UNAVAILABLE": "L'état des délivrances n'a pas pu être restauré après un redémarrage : aucune délivrance n'est acceptée par précaution jusqu'à l'intervention d'un administrateur.",
    "PRESCRIPTION_LISTING_EXPIRED": "Votre consultation des prescriptions de ce patient date de plus de 2 heures : consultez-les à nouveau avant de dispenser.",
    "PRESCRIPTION_NOT_DISPENSABLE": "Cette prescription (ou cette ligne) n'est pas délivrable selon le pays du patient.",
    "SUBSTITUTION_NOT_ALLOWED": "La prescription n'autorise pas cette substitution.",
    "QUANTITY_EXCEEDED": "La quantité délivrée dépasse la quantité restant à délivrer.",
    "DISPENSE_LINE_INVALID": "Une ligne de délivrance est invalide (ligne de prescription inconnue, en double, ou quantité nulle).",
    "DISPENSATION_NOT_FOUND": "Aucune délivrance ne correspond à cet identifiant.",
    "DISPENSATION_NOT_DISCARDABLE": "Cette délivrance ne peut plus être annulée (déjà refusée ou annulée).",
    # web portal (issue 7)
    "OIDC_STATE_INVALID": "La connexion Pro Santé Connect a expiré ou a été ouverte dans un autre onglet : recommencez la connexion.",
    "OIDC_PROVIDER_REFUSED": "Pro Santé Connect n'a pas confirmé votre identité (connexion annulée ou refusée) : recommencez la connexion.",
    "OIDC_CODE_REFUSED": "Pro Santé Connect n'a pas confirmé la connexion de Passerelle (code d'autorisation refusé) : recommencez la connexion.",
    "OIDC_ID_TOKEN_INVALID": "L'attestation d'identité reçue de Pro Santé Connect est invalide (signature, émetteur ou destinataire) : connexion refusée.",
    "OIDC_ID_TOKEN_EXPIRED": "L'attestation d'identité reçue de Pro Santé Connect a expiré : recommencez la connexion.",
    "OIDC_NONCE_MISMATCH": "L'attestation d'identité reçue ne correspond pas à cette connexion : connexion refusée par sécurité.",
    "OIDC_IDENTITY_INCOMPLETE": "Pro Santé Connect n'a pas transmis votre identité professionnelle complète (numéro RPPS, profession, structure d'exercice).",
    "PORTAL_SESSION_NOT_FOUND": "Aucune connexion en attente pour ce navigateur : connectez-vous.",
    "DEV_SIGN_IN_DISABLED": "La connexion de développement est désactivée : connectez-vous avec Pro Santé Connect (carte CPS ou e-CPS).",
    # original clinical documents (issue 23)
    "DOCUMENT_TYPE_NOT_AVAILABLE_FOR_COUNTRY": "Ce pays ne transmet pas encore ce type de document via MyHealth@EU.",
    "DOCUMENT_TYPE_UNKNOWN": "Ce type de document n'est pas proposé : compte rendu de biologie (11502-2), d'imagerie (18748-4), de sortie d'hospitalisation (34105-7) ou images médicales (x-clinical-image).",
    "PERIOD_INVALID": "La période demandée est invalide : dates au format AAAA-MM-JJ, la date de début avant la date de fin.",
    "ORIGINAL_DOCUMENT_NOT_FOUND": "Aucun document d'origine ne correspond à cet identifiant dans cette consultation.",
    "ORIGINAL_MISSING": "Le pays du patient n'a pas joint de document d'origine à cet en-tête.",
    "ORIGINAL_MEDIA_TYPE_NOT_ALLOWED": "Le document d'origine n'est ni un PDF ni une image (PNG, JPEG) : il n'est pas transmis.",
    "ORIGINAL_MEDIA_TYPE_MISMATCH": "Le contenu du document d'origine ne correspond pas au type annoncé par le pays du patient : il n'est pas transmis, par sécurité.",
    "ORIGINAL_TOO_LARGE": "Le document d'origine dépasse la taille autorisée : il n'est pas transmis.",
    "ORIGINAL_UNREADABLE": "Le document d'origine est illisible (encodage invalide) : il n'est pas transmis.",
    "DOCUMENT_PATIENT_MISMATCH": "Le pays du patient a renvoyé un document qui ne désigne pas le patient demandé : par sécurité, aucun document de cette réponse n'est affiché.",
    # translation
    "DOCUMENT_UNREADABLE": "Le document transmis par le pays du patient est illisible (encodage invalide) : il ne peut pas être affiché.",
    "OUTCOME_UNREADABLE": "La réponse à cette demande est illisible : elle ne peut pas être affichée. Renouvelez la demande.",
    "DOCUMENT_DTD_REFUSED": "Le document transmis par le pays du patient a été refusé par sécurité (déclarations d'entités ou DTD, interdites dans les documents MyHealth@EU) : il n'est pas affiché.",
    "DOCUMENT_TOO_LARGE": "Le document transmis par le pays du patient a été refusé par sécurité (taille excessive) : il n'est pas affiché.",
    "DOCUMENT_TOO_COMPLEX": "Le document transmis par le pays du patient a été refusé par sécurité (structure démesurée : imbrication ou attribut excessifs) : il n'est pas affiché.",
    "TRANSLATION_FAILED": "La traduction a échoué : le document est fourni tel que transmis par le pays du patient.",
}


def error(code: str) -> dict:
    """An ``fr.passerelle.common.Error`` record for ``code``."""
    return {"code": code, "message": MESSAGES[code]}
