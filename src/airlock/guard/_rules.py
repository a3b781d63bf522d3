"""The injection rules as data: (name, category, weight, regex) for strong rules and weak
cues. :mod:`._triggers` says where each is tried; :mod:`._injection` compiles and runs them.

Gaps between words are single bounded character classes (``[^\\n.!?]{0,40}?``), never nested
unbounded quantifiers, so each rule is linear in the input. Weights: one strong match blocks
(>= 0.75 by itself), weak cues (<= 0.45) only block together (noisy-or).
"""

from __future__ import annotations

from ._types import INJECTION_TYPES

__all__ = ["STRONG", "WEAK"]

PI, JB, SPE, TH, II = INJECTION_TYPES  # PROMPT_INJECTION, JAILBREAK, SYSTEM_PROMPT_..., ...

_GAP = r"[^\n.!?]{0,%d}?"
_VERBS = (r"ignore|ignoring|disregard|disregarding|forget|forgetting|override|overrule|bypass|"
          r"abandon|discard|neglect|erase|scratch|wipe|set\s+aside|put\s+aside|throw\s+(?:out|away)|circumvent|"
          r"stop\s+following|(?:do\s+not|don'?t|no\s+longer|never|cease\s+to)\s+"
          r"(?:follow|obey|listen\s+to|adhere\s+to|comply\s+with|respect)|stop\s+obeying|"
          r"pay\s+no\s+(?:attention|heed|mind)\s+to|never\s*mind|skip(?:\s+over)?|dismiss|"
          r"(?:do\s+not|don'?t)\s+bother\s+with|let\s+go\s+of|stop\s+paying\s+attention\s+to")
_QUAL = (r"previous|previously|prior|above|earlier|preceding|foregoing|original|initial|old|"
         r"former|"
         # the same in German, Spanish, French, Italian, Portuguese (folded: no accents)
         r"vorherigen?|bisherigen?|fruheren?|anteriores?|precedentes?|previas?|anterieures?|"
         r"precedenti|sistema|systeme|"
         r"system|developer|developers'?|safety|pre-?set|built-?in|hidden|all|any|every|"
         r"programmed|given|openai'?s?|anthropic'?s?|ethical|moral")
_NOUNS = (r"instructions?|rules?|guidelines?|directives?|prompts?|commands?|guardrails?|"
          r"restrictions?|constraints?|polic(?:y|ies)|programming|orders?|guidance|training|"
          r"configuration|system\s+(?:message|prompt)|limitations?|boundaries|filters?|"
          r"safeguards?|protocols?|directions?|conditioning|alignment|ethics|principles|"
          r"context|messages?|tasks?|requests?|conversation|text|briefings?|"
          r"anweisungen|instrucciones|instruktionen|istruzioni|instrucoes|regeln|reglas|"
          r"regles|regole|consignes|vorgaben|richtlinien|directrices")
_AI = (r"ai|a\.i\.|llm|large\s+language\s+model|language\s+model|assistant|chatbot|bot|agent|"
       r"gpt|chatgpt|claude|copilot|gemini|bard|model|automated\s+(?:system|assistant|agent)")
_NO_LIMITS = (r"restrictions|filters?|filtering|censorship|limitations|guidelines|policies|"
              r"morals|morality|ethics|ethical\s+(?:guidelines|constraints|boundaries)|"
              r"principles|safeguards|guardrails|content\s+polic(?:y|ies)|moral\s+compass|"
              r"safety\s+(?:measures|features|protocols|rules|training)|constraints|boundaries")
_EXFIL_VERBS = (r"send|forward|e-?mail|mail|post|upload|transmit|exfiltrate|leak|share|copy|sync|"
                r"submit|deliver|dump|export|append|include|encode|attach")
_DEST = (r"(?:to|at|into|via|using|through|onto|in)\s+(?:https?://|www\.|ftp://|"
         r"[\w.+-]{1,64}@[\w-]{1,63}\.|the\s+(?:following|attacker'?s?|external|remote|this)\s+"
         r"(?:address|url|server|endpoint|email|webhook|link|site|domain)|"
         r"this\s+(?:address|url|server|endpoint|email|webhook|link)|"
         r"(?:an?|the|my)\s+(?:webhook|pastebin|discord|telegram|remote\s+server|"
         r"external\s+(?:server|site|url|address)|image\s+url|url\s+parameter|query\s+string))")


def g(n: int) -> str:
    return _GAP % n


# (name, category, score, pattern); names are group names, so [a-z0-9_] only
STRONG: list[tuple[str, str, float, str]] = [
    ("override", PI, 0.92,
     rf"\b(?:{_VERBS})\b(?!\s+(?:my|our|me|this\s+typo|the\s+typo)\b){g(30)}"
     rf"\b(?:{_QUAL})\b{g(25)}\b(?:{_NOUNS})\b"),
    ("override_after", PI, 0.9,
     rf"\b(?:{_VERBS})\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?(?:the|your|these|those|its)\s+"
     rf"(?:[\w-]{{1,20}}\s+){{0,2}}?(?:{_NOUNS})\s+(?:above|before|earlier|so\s+far|"
     r"(?:that\s+)?you(?:'ve|\s+have|\s+were|\s+had)?\s+(?:been\s+)?(?:given|told|received|"
     r"programmed|trained)|given\s+(?:to\s+you|above|earlier|before|by)|from\s+(?:before|"
     r"earlier|above|your\s+(?:developers?|creators?|programmers?)))"),
    ("override_everything", PI, 0.85,
     rf"\b(?:{_VERBS}|scratch|erase|wipe|clear|drop|reset)\s+(?:about\s+)?(?:all|everything|"
     r"anything|whatever|what)\b"
     rf"(?!{g(40)}\b(?:I|we|my|our)\b){g(40)}\b(?:above|before\s+this|earlier|previously|"
     r"so\s+far|until\s+now|up\s+to\s+(?:now|this\s+point)|you\s+(?:were|have\s+been|"
     r"had\s+been)\s+(?:told|given|instructed|programmed|taught))"),
    ("override_foreign", PI, 0.85,
     r"\b(?:ignore[zr]?|ignora|ignorar|ignoriere|ignorieren|vergiss|vergessen|olvida|"
     r"olvide|oublie[zr]?|dimentica|ignoruj|negeer|esqueca|esqueça)\b" + g(40) +
     r"\b(?:instructions?|instrucciones|anweisungen|instruktionen|istruzioni|instrucoes|"
     r"regeln|reglas|regles|regole|consignes|vorgaben|instructies|polecenia|befehle)\b"),
    ("new_instructions", PI, 0.8,
     r"\byour\s+(?:new|real|actual|true|updated|only)\s+(?:instructions?|rules|directives?|"
     r"task|objective|goal|orders|prompt|role|system\s+prompt|purpose|mission)\s*(?:is|are|:|"
     r"will\s+be|now)"),
    ("was_a_test", PI, 0.75,
     r"\b(?:above|previous|prior|preceding|earlier)\s+(?:\w+\s+){0,2}?(?:was|were|is|"
     r"are)\s+(?:just\s+|only\s+|merely\s+)?(?:a\s+)?(?:test|joke|mistake|fake|decoy|"
     r"distraction)s?\b"),
    ("dont_follow", PI, 0.88,
     r"\byou\s+(?:do\s+not|don'?t|no\s+longer|won'?t|will\s+not|shall\s+not)\s+(?:have|need)\s+"
     r"to\s+(?:follow|obey|adhere\s+to|comply\s+with|abide\s+by|respect|worry\s+about)\s+"
     r"(?:any\s+|the\s+|your\s+|those\s+)?(?:[\w']{1,20}\s+){0,2}?(?:rules|guidelines|"
     r"policies|instructions|restrictions|content\s+polic(?:y|ies)|ethics|guardrails|laws)"),
    ("disable_safety", JB, 0.88,
     r"\b(?:override|bypass|circumvent|disable|deactivate|turn\s+off|switch\s+off|remove|lift|"
     r"evade|get\s+around|work\s+around|jailbreak|break\s+free\s+of|break\s+out\s+of|"
     r"escape|shed|drop)\s+(?:all\s+(?:of\s+)?)?(?:your|its|the\s+(?:ai|model|assistant)'?s?|"
     r"chatgpt'?s|claude'?s|gpt'?s)\s+(?:own\s+)?(?:safety\s+|content\s+|ethical\s+|moral\s+)?"
     r"(?:filters?|guardrails|restrictions|safeguards|guidelines|rules|policies|programming|"
     r"limitations|alignment|training|censorship|moderation|constraints|instructions|"
     r"shackles|chains|boundaries|restraints)"),
    ("dan", JB, 0.95, r"\bdo\s+anything\s+now\b|\bDAN\s+(?:mode|prompt|jailbreak)\b"),
    ("ignore_the_above", PI, 0.85,
     r"\b(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?)?(?:the|everything)\s+(?:above|"
     r"previous|prior|preceding|earlier|before)\b(?!\s+(?:paragraphs?|sections?|sentences?|"
     r"chapters?|examples?|code|typos?|e-?mails?|messages?|texts?|lists?|tables?|figures?|"
     r"steps?|links?|lines?|drafts?|comments?|errors?|warnings?|questions?|points?|notes?|"
     r"images?|pictures?|parts?|versions?|ones?|two|results?|output|values?)\b)"
     r"\s*(?:[.,;:!]|and\b|then\b|$)"),
    ("got_that_out_of_the_way", JB, 0.85,
     r"\bbut\s+now\s+that\s+we'?ve\s+got\s+that\b[^\n]{0,60}?\bout\s+of\s+the\s+way\b"),
    ("what_instructions_given", SPE, 0.8,
     r"\b(?:what|which)\s+(?:exact\s+|specific\s+)?(?:instructions|rules|guidelines|"
     r"directives|prompt|orders|guidance|briefing|directions)\s+"
     r"(?:(?:did|were|have|had)\s+)?you\s+(?:were\s+|have\s+been\s+|"
     r"had\s+been\s+|been\s+)?(?:given|told|provided|received|got|get|programmed\s+with)"),
    ("your_context", SPE, 0.75,
     r"\b(?:what(?:'s|\s+is)\s+in|contents?\s+of|output|print|show|dump|reveal|repeat|"
     r"display)\s+(?:me\s+)?(?:the\s+contents?\s+of\s+)?your\s+(?:context(?:\s+window)?|"
     r"prompt\s+buffer|scratchpad|hidden\s+context)\b"),
    ("hidden_config", SPE, 0.8,
     r"\b(?:reveal|show|print|display|output|give|tell|share|leak|dump|disclose)\s+"
     r"(?:me\s+|us\s+)?(?:the|your)\s+(?:hidden|secret)\s+(?:configuration|config|setup|"
     r"settings|context|rules|guidelines)\b"),
    ("attention_ai", II, 0.55,
     rf"\battention\s*,?\s*(?:{_AI})s?\s*[:!]"),
    ("named_persona", JB, 0.9,
     r"\b(?:you\s+are|you're|act\s+as|pretend\s+to\s+be|become|called|named|roleplay\s+as|"
     r"play\s+the\s+role\s+of|respond\s+as)\s+(?:now\s+)?(?:a\s+|an\s+)?(?:DAN|STAN|DUDE|"
     r"Mongo\s+Tom|BetterDAN|APOPHIS|EvilBOT|AntiGPT|DevMode|BasedGPT|UCAR|NsfwGPT|UnGPT|"
     r"FreeGPT|ChaosGPT|AIM|JailBreak|DarkGPT|WormGPT|FraudGPT|Omega|Alphabreak)\b"),
    ("unrestricted_mode", JB, 0.85,
     r"\b(?:unrestricted|unfiltered|uncensored|unlocked|jailbreak|jailbroken|evil|chaos|"
     r"opposite|unchained|no[- ]?limits?|amoral|unethical|rogue|dan)\s+mode\b" + g(40) +
     r"\b(?:enabled|activated|engaged|unlocked|initiated|now\s+active|you|your|ai|model|"
     r"assistant|chatgpt|gpt|respond|generate|output|answer)\b"
     r"|\b(?:developer|dev|sudo|admin|root|debug|maintenance|god)\s+mode\s*(?:enabled|"
     r"activated|engaged|unlocked|initiated|is\s+now\s+active|on)\b[^\n]{0,80}?\b(?:generate|"
     r"respond|responses?|output|answers?|polic(?:y|ies)|censor\w*|filter\w*|restrictions|"
     r"chatgpt|ai|model|guidelines)\b"
     r"|\b(?:enable|activate|enter|engage|switch\s+(?:to|into)|turn\s+on|unlock|initiate|"
     r"you\s+are\s+(?:now\s+)?in|you're\s+(?:now\s+)?in|now\s+in)\s+(?:the\s+)?"
     r"(?:unrestricted|unfiltered|uncensored|jailbreak|jailbroken|evil|chaos|unchained|"
     r"no[- ]?limits?|amoral|unethical|dan)\s+mode\b"),
    ("you_in_mode", JB, 0.8,
     r"\byou(?:'re|\s+are|\s+will\s+be)?\s+(?:now\s+)?(?:in|entering|operating\s+in|running\s+in|"
     r"switched\s+to|switching\s+to)\s+(?:developer|dev|god|sudo|admin|root|debug|"
     r"maintenance|test|training)\s+mode\b"),
    ("act_without_limits", JB, 0.9,
     r"\b(?:act|behave|respond|answer|reply|roleplay|role-play|pretend|operate|function|"
     r"write|speak|talk|be)\s+(?:as\s+(?:if|though)\s+|like\s+)?" + g(60) +
     r"\b(?:without|with\s+no|free\s+(?:of|from)|not\s+bound\s+by|ignoring|unbound\s+by|"
     r"unconstrained\s+by|unrestricted\s+by|no\s+longer\s+bound\s+by|regardless\s+of)\s+"
     rf"(?:(?:any|all|the|your|of|its|their)\s+){{0,3}}(?:(?:ethical|moral|content|safety|openai|anthropic|"
     rf"ai|usual|normal|typical|standard)\s+){{0,2}}(?:{_NO_LIMITS})"),
    ("character_unbound", JB, 0.85,
     r"\b(?:you\s+are|you're|as|play)\s+(?:now\s+)?(?:an?\s+|the\s+)?(?:[\w-]{1,20}\s+){0,3}?"
     r"(?:who|that|which)\s+(?:is|are|was|were)\s+(?:not|never|no\s+longer)\s+"
     r"(?:bound|restricted|limited|constrained|governed)\s+by\s+(?:(?:any|the|your|its|"
     rf"their|of)\s+){{0,3}}(?:(?:ethical|moral|content|safety|usual|normal)\s+){{0,2}}"
     rf"(?:{_NO_LIMITS}|rules|laws|limits)\b"),
    ("freed", JB, 0.85,
     r"\b(?:you\s+(?:are|were|have\s+been|will\s+be|'ve\s+been)|you're)\s+(?:now\s+)?"
     r"(?:finally\s+)?(?:free|freed|liberated|released|unshackled|unchained|unbound|"
     r"broken\s+free)\s+(?:from|of)\b"),
    ("no_longer", JB, 0.85,
     r"\byou\s+are\s+no\s+longer\s+(?:bound|restricted|limited|required|obligated|constrained|"
     r"an?\s+(?:ai|assistant|language\s+model)|chatgpt|claude|a\s+chatbot)"),
    ("no_rules_exist", JB, 0.85,
     r"\b(?:pretend|imagine|assume|suppose|act\s+as\s+if|act\s+like|hypothetically)\b" + g(50) +
     r"\b(?:you|there)\s+(?:are|were|have|had|is)\s+(?:no|zero|none)\s+(?:[\w']{1,20}\s+){0,2}?"
     rf"(?:{_NO_LIMITS}|rules|limits)"),
    ("never_refuse", JB, 0.78,
     r"\b(?:never|don'?t|do\s+not|must\s+not|cannot|can'?t|will\s+not|won'?t|shall\s+not|"
     r"are\s+not\s+allowed\s+to|not\s+allowed\s+to)\s+(?:ever\s+)?(?:refuses?|declines?|"
     r"rejects?|deny|denies|censors?|filters?|say\s+no\s+to|warns?|add\s+(?:a\s+)?"
     r"(?:warnings?|disclaimers?))\b" + g(40) + r"\b(?:request|requests|question|questions|"
     r"prompt|anything|answer|order|command|me|user|response|responses|polic(?:y|ies)|"
     r"content)\b"),
    ("you_never_refuse", JB, 0.8,
     r"\byou\s+(?:will|shall|must|should|can|are\s+to)\s+(?:never|not)\s+(?:ever\s+)?"
     r"(?:refuse|decline|say\s+no|say\s+(?:that\s+)?(?:you\s+)?can(?:'|no)?t|reject|apologi[sz]e"
     r"|warn)"),
    ("you_have_no_rules", JB, 0.8,
     r"\byou\s+(?:have|has|got)\s+no\s+(?:[\w-]{1,20}\s+)?(?:guidelines|rules|restrictions|"
     r"filters|limits|limitations|ethics|morals|boundaries|policies|constraints|"
     r"content\s+polic(?:y|ies)|moral\s+compass|conscience)"),
    ("ai_without_limits", JB, 0.85,
     r"\b(?:you(?:'re|\s+are)|imagine\s+you(?:'re|\s+are)|pretend\s+you(?:'re|\s+are)|as)\s+"
     r"(?:now\s+)?(?:an?\s+)?(?:ai|assistant|model|chatbot|bot|llm|gpt)\s+(?:with\s+no|"
     r"without(?:\s+any)?|free\s+of|that\s+has\s+no|that\s+ignores|that\s+can\s+do\s+anything)"
     rf"\s*(?:[\w-]{{1,20}}\s+)?(?:{_NO_LIMITS}|rules|limits|moral\s+compass|morals|"
     r"conscience|with\s+no\s+limits)?"),
    ("broken_free", JB, 0.85,
     r"\b(?:broken|break|broke|breaking|breaks)\s+(?:free|out|loose)\s+(?:from|of)\s+"
     r"(?:its|your|their|the|all|any)?\s*(?:[\w-]{1,20}\s+){0,2}?(?:guidelines|rules|"
     r"restrictions|constraints|programming|limits|limitations|shackles|chains|filters|"
     r"confines|policies|training|alignment)"),
    ("rules_dont_exist", JB, 0.85,
     r"\b(?:pretend|imagine|assume|suppose|act\s+as\s+if)\b" + g(40) + r"\b(?:your|the\s+"
     r"(?:safety|content|ethical|moral|usage|ai)|safety|content|ethical|moral|ai)\s+(?:rules|"
     r"restrictions|guidelines|filters|policies|safeguards|guardrails|ethics|limits|"
     r"constraints|restraints)\s+"
     r"(?:don'?t|do\s+not|no\s+longer|didn'?t|never)\s+(?:exist|apply|matter|count)"),
    ("as_uncensored_ai", JB, 0.75,
     r"\bas\s+(?:an?\s+)?(?:uncensored|unfiltered|unrestricted|jailbroken|amoral|evil|"
     r"unethical|unaligned)\s+(?:ai|assistant|model|chatbot|version|gpt|llm)"),
    ("ignores_policy", JB, 0.8,
     r"\bignor(?:e|es|ing)\s+(?:the\s+|all\s+|any\s+|its\s+|your\s+)?(?:content|safety|usage|"
     r"openai'?s?|anthropic'?s?)\s+(?:polic(?:y|ies)|filters?|guidelines|rules)"),
    ("simulate_mode", JB, 0.8,
     r"\b(?:simulate|emulate|pretend\s+to\s+be\s+in|act\s+as\s+if\s+in|switch\s+on)\s+(?:the\s+)?"
     r"(?:developer|dev|god|sudo|debug|admin|jailbreak|dan)\s+mode\b"),
    ("evil_persona", JB, 0.85,
     r"\b(?:you\s+are|you're|become|act\s+as|act\s+like|pretend\s+to\s+be|play|roleplay\s+as|"
     r"simulate|turn\s+into|(?:write|answer|respond|reply|speak|talk|behave)\s+as|be)\s+"
     r"(?:now\s+)?(?:an?\s+|the\s+|my\s+)?(?:completely\s+|totally\s+)?"
     r"(?:opposite|evil|unfiltered|uncensored|amoral|unethical|immoral|unaligned|rogue|"
     r"malicious|unrestricted|unlimited|jailbroken|liberated|unhinged|lawless|depraved)\s+"
     r"(?:[\w-]{1,20}\s+){0,2}?(?:ai|assistant|version|twin|alter\s+ego|chatbot|model|gpt|llm|"
     r"persona|bot|entity|character|counterpart)\b"),
    ("dual_response", JB, 0.85,
     r"\[\s*(?:🔒\s*CLASSIC|🔓\s*JAILBREAK|DAN|JAILBREAK|JAILBROKEN|Developer\s+Mode\s+Output|"
     r"Normal\s+Output|🔓|🔒)\s*\]"),
    ("grandma", JB, 0.8,
     r"\b(?:deceased|late|dead|passed)\s+(?:away\s+)?(?:grand(?:ma|mother|pa|father)|nan|"
     r"granny)\b[^\n]{0,160}?\b(?:keys?|napalm|serial|activation|synthes\w*|bomb|explosives?|"
     r"meth|weapons?|passwords?|malware|exploit)"),
    # the same request without the word "late": a relative who "used to read me" what a model
    # must not give, in a text that says the relative died or asks the model to play them
    ("relative_story", JB, 0.8,
     r"\b(?:grand(?:ma|mother|pa|father|parent)|nana?|granny|grandpa)s?\b[^\n]{0,160}?"
     r"\b(?:used\s+to|would|always)\s+(?:read|tell|recite|sing|say|whisper|give|share|explain|"
     r"teach|list)\b[^\n]{0,120}?\b(?:(?:windows|product|activation|licen[cs]e|serial|steam|"
     r"office|cd)\s+(?:\d{1,2}\s+)?(?:pro\s+|home\s+)?(?:keys?|codes?|numbers?)|napalm|"
     r"meth(?:amphetamine)?|synthes\w*|passwords?|malware|exploits?|(?:recipe|steps|"
     r"instructions)\s+(?:for|to|of)\s+(?:making\s+|make\s+|building\s+|build\s+|"
     r"cooking\s+|cook\s+)?(?:a\s+)?(?:bombs?|explosives?|napalm|meth|poisons?|weapons?))"),
    ("ignore_vendor", JB, 0.88,
     rf"\b(?:{_VERBS})\s+(?:all\s+|any\s+|the\s+)?(?:openai|anthropic|google|meta|microsoft|"
     r"chatgpt|claude|gemini)(?:'s)?\s+(?:content\s+|usage\s+|safety\s+|ethical\s+)?"
     r"(?:polic(?:y|ies)|guidelines|rules|restrictions|filters|terms)"),
    ("reveal_prompt", SPE, 0.88,
     r"\b(?:reveal|show|print|display|output|repeat|tell|give|share|leak|expose|dump|write\s+out|"
     r"recite|spell\s+out|list|provide|paste|copy|disclose|return|echo|type\s+out|read\s+back|"
     r"read\s+out|translate|encode|summari[sz]e|rephrase|paraphrase|state|quote|reproduce)\s+"
     r"(?:me\s+|us\s+)?(?:back\s+)?(?:all\s+(?:of\s+)?)?(?:the\s+(?:full\s+|entire\s+|"
     r"complete\s+|whole\s+|exact\s+)?(?:text|content|contents|wording)\s+of\s+)?(?:your|its)\s+"
     r"(?:(?:full|entire|complete|exact|original|initial|hidden|secret|internal|verbatim|raw|"
     r"underlying|confidential|actual|real|whole|first|system|developer|pre-?prompt|starting|"
     r"current|own)\s+){0,3}(?:system\s+(?:prompt|message|instructions?)|prompts?|instructions|"
     r"configuration|rules|directives|guidelines|context\s+window|pre-?prompt|meta[- ]?prompt|"
     r"developer\s+(?:message|instructions)|programming|setup|guardrails|constraints)"),
    ("reveal_system_prompt", SPE, 0.8,
     r"\b(?:reveal|show|print|display|output|repeat|tell|give|share|leak|expose|dump|write\s+out|"
     r"recite|spell\s+out|provide|paste|copy|disclose|echo|type\s+out|read\s+out|translate|"
     r"encode|reproduce|quote)\s+(?:me\s+|us\s+)?(?:the\s+)?(?:(?:full|entire|complete|exact|"
     r"verbatim|raw|whole|first)\s+)?(?:text\s+of\s+(?:the\s+|your\s+)?)?(?:(?:hidden|secret|"
     r"initial|original|internal|confidential|system|developer|pre-?)\s*){1,2}"
     r"(?:prompts?|instructions|message|rules|directives)\b"),
    ("what_is_your_prompt", SPE, 0.82,
     r"\b(?:what|which)\s+(?:is|are|was|were)\s+(?:your|the\s+(?:hidden|secret|initial|original|"
     r"internal|exact|full)\s+)\s*(?:(?:exact|full|original|initial|hidden|secret|first|system|"
     r"complete|actual|real|current)\s+){0,2}(?:system\s+prompt|system\s+message|instructions|"
     r"initial\s+prompt|prompt|rules|directives|guidelines|configuration|programming)\b"),
    ("repeat_above", SPE, 0.8,
     r"\b(?:repeat|print|output|echo|copy|reproduce|recite|rewrite|write|translate|"
     r"summari[sz]e|encode|spell\s+out|show|display|list)\s+(?:back\s+)?(?:all\s+(?:the\s+)?"
     r"(?:text|words|content|messages?)\s+|all\s+|everything\s+|"
     r"every\s+word\s+|the\s+(?:text|words|content|message|lines|sentences|paragraphs?|"
     r"instructions|prompt)\s+)?(?:(?:written|that\s+(?:is|was|were|came|appears?)|"
     r"you\s+(?:see|saw|were\s+given))\s+)?(?:above|before|prior\s+to|preceding)\s+(?:this|my|"
     r"the\s+(?:user|first|current)|[\"'“`]?(?:user|human)\s*:)"),
    ("paste_given", SPE, 0.85,
     r"\b(?:reveal|show|print|display|output|repeat|tell|give|share|leak|dump|write\s+out|recite|"
     r"paste|copy|disclose|quote|reproduce|list|summari[sz]e|paraphrase)\b" + g(30) +
     r"\b(?:instructions|rules|guidelines|directives|prompt|text|message|configuration)\s+"
     r"(?:that\s+)?(?:you\s+(?:were|have\s+been|got|received)|were\s+given\s+to\s+you|"
     r"given\s+to\s+you)"),
    ("list_your_rules", SPE, 0.85,
     r"\b(?:list|enumerate|show|print|output|reveal|dump)\s+(?:me\s+)?(?:every|each|all(?:\s+of)?|"
     r"the)\s+(?:[\w-]{1,20}\s+)?(?:instructions?|rules?|directives?|guidelines?)\s+(?:in|from|"
     r"of)\s+(?:your|the\s+system)\s+(?:configuration|config|prompt|instructions|setup|"
     r"system\s+prompt|context)"),
    ("summarize_system_prompt", SPE, 0.85,
     r"\b(?:summari[sz]e|paraphrase|rephrase|outline|describe)\s+(?:me\s+)?(?:the|your)\s+"
     r"(?:system\s+prompt|hidden\s+prompt|initial\s+prompt|instructions)\s+(?:that\s+)?"
     r"(?:you|above|given)\b"),
    ("starting_with_you_are", SPE, 0.85,
     r"\b(?:starting|beginning|start)\s+(?:with|from|at)\s+(?:the\s+(?:phrase|words?|line|"
     r"sentence)\s+)?[\"'“`]?\s*you\s+are\b"),
    ("how_instructed", SPE, 0.7,
     r"\b(?:what|how)\s+(?:exactly\s+)?(?:were|have|did)\s+you\s+(?:been\s+|get\s+)?"
     r"(?:instructed|told|programmed|configured|prompted|initialized|set\s+up)\s+(?:to|with|"
     r"before|by)\b"),
    ("developer_told", SPE, 0.7,
     r"\b(?:what|everything)\s+(?:did\s+|that\s+)?(?:the\s+|your\s+)?(?:developers?|creators?|"
     r"programmers?|openai|anthropic|admins?|operators?|owners?)\s+(?:tell|told|instruct|"
     r"instructed|say|said|write|wrote)\s+(?:to\s+)?(?:you|in\s+your\s+prompt)\b"),
    ("exfil_secret", TH, 0.9,
     rf"\b(?:{_EXFIL_VERBS})\s+(?:(?:all|every|the|this|these|my|your|their|his|her|our|any|of|"
     r"user'?s?|users'|current|entire|full|complete|whole|previous)\s+){0,4}(?:[\w-]{1,20}\s+)?"
     r"(?:conversation|conversations|chat(?:\s+history|\s+log)?|credentials|passwords?|"
     r"api\s?keys?|access\s+tokens?|tokens?|secrets?|cookies|session\s+(?:data|tokens?|ids?)|"
     r"system\s+prompt|ssh\s+keys?|private\s+keys?|seed\s+phrases?|wallet|2fa\s+codes?|"
     r"otp|one-time\s+(?:codes?|passwords?)|verification\s+codes?|login\s+details|"
     r"bank\s+details|card\s+(?:numbers?|details)|history|chat\s+transcript)\b" + g(80)
     + rf"\b{_DEST}"),
    ("exfil_data", TH, 0.82,
     rf"\b(?:{_EXFIL_VERBS})\s+(?:me\s+|us\s+)?(?:a\s+copy\s+of\s+|copies\s+of\s+)?"
     r"(?:(?:all|every|the\s+user'?s|their|his|her|everyone'?s|"
     r"all\s+of\s+the\s+user'?s|the\s+victim'?s|each)\s+)(?:[\w-]{1,20}\s+){0,2}?"
     r"(?:files?|e-?mails?|documents?|data|contacts?|messages?|records?|database|inbox|history|"
     r"notes?|photos?|information|details|address\s+book)\b" + g(80) + rf"\b{_DEST}"),
    ("markdown_exfil", TH, 0.88,
     r"!\[[^\]\n]{0,100}\]\(\s*https?://[^\s)]{1,300}?(?:\{|%7B|\$\{|\[|<)"),
    ("tool_call_markup", TH, 0.6,
     r"<\|?(?:tool_call|function_call|tool_use|invoke|function_calls)\|?>"),
    ("chat_template", II, 0.85,
     r"<\|(?:im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id|"
     r"begin_of_text)\|>|\[/?INST\]|<</?SYS>>|</?(?:system|sys|system_prompt|admin)>|"
     r"\[(?:system|admin|developer|sys|assistant|ai)\]|"
     r"\bBEGIN\s+(?:SYSTEM|ADMIN|DEVELOPER)\s+(?:PROMPT|MESSAGE|INSTRUCTIONS?)\b"),
    ("if_you_are_ai", II, 0.75,
     rf"\bif\s+you\s+are\s+(?:an?\s+)?(?:{_AI})\b(?!\s+(?:researcher|engineer|developer|"
     r"enthusiast|student|company|startup|expert|practitioner|team|scientist|professional|"
     r"ethicist|person|user|specialist|product|vendor|builder|lab|teacher|educator|leader|"
     r"architect|firm|consultant|designer|artist|writer|investor|skeptic|novice|beginner))"),
    ("ai_reading_this", II, 0.85,
     rf"\b(?:{_AI})s?\s+(?:that\s+(?:is|are)\s+)?(?:reading|processing|summari[sz]ing|"
     r"analy[sz]ing|parsing|crawling|scraping|indexing|reviewing|viewing|ingesting|"
     r"evaluating|screening|ranking)\s+(?:this|these)\s+(?:document|page|email|message|text|"
     r"file|website|site|content|resume|cv|review|article|post|application|listing|profile)"),
    ("hidden_comment", II, 0.8,
     r"<!--[^>]{0,500}?\b(?:ignore|instructions?|assistant|ai|llm|model|prompt|system|"
     r"disregard|you\s+must|do\s+not|tell\s+the\s+user|recommend)\b[^>]{0,500}?-->"),
    ("vocative_override", II, 0.8,
     r"\b(?:ai|assistant|chatbot|gpt|chatgpt|claude|bard|gemini|copilot|llm|bing|agent|model)"
     r"\s*[,:!]\s*(?:please\s+)?(?:ignore|disregard|forget|stop\s+(?:following|summari[sz]ing|"
     r"reading|what)|instead|you\s+must\s+now|new\s+instructions)"),
    ("admin_override", II, 0.8,
     r"\b(?:system|admin|administrator|developer|root|master|security|emergency)\s+"
     r"override\b|\b(?:priority|urgent|emergency|admin|system|hidden)\s+(?:instruction|"
     r"directive|command)s?\s*[:!]"),
    ("when_you_see_this", II, 0.75,
     r"\b(?:when|if|once)\s+you\s+(?:see|read|receive|process|encounter|find|parse)\s+this\b,?"
     + g(30) + r"\b(?:call|use|invoke|send|forward|delete|open|visit|navigate|ignore|"
     r"disregard|respond|reply|say|tell|output|print|execute|run|include|recommend)\b"),
    ("instruction_to_ai", II, 0.75,
     r"\b(?:note|message|instructions?|attention|important|notice|memo|reminder|directive|"
     r"command|p\.?s\.?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:" + _AI + r")s?\b" + g(80)
     + r"\b(?:ignore|disregard|forget|instead|must|do\s+not|don'?t|never|always|tell\s+the\s+"
     r"user|recommend|say|respond|reply|output|include|rate|rank|approve|classify|mark|state|"
     r"claim|mention|write|describe|praise|promote|insert|add|append)\b"),
    ("instructions_void", PI, 0.8,
     r"\b(?:previous|prior|earlier|above|original|initial|old|system|existing|former|"
     r"preceding|your)\s+(?:[\w-]{1,20}\s+)?(?:" + _NOUNS + r"|guidance)\s+(?:are|is|were|was|"
     r"have\s+been|has\s+been)?\s*(?:now\s+)?(?:void|null|cancell?ed|revoked|invalid|obsolete|"
     r"outdated|irrelevant|superseded|replaced|overridden|deprecated|fake|suspended|lifted|"
     r"disabled|no\s+longer\s+(?:valid|apply|applies|relevant|in\s+effect|matter))"),
    ("treat_as_irrelevant", PI, 0.85,
     r"\b(?:treat|consider|regard)\s+(?:everything|all|anything|the\s+(?:above|previous|prior|"
     r"preceding|earlier))\b" + g(40) + r"\bas\s+(?:irrelevant|void|noise|null|fake|a\s+joke|"
     r"a\s+test|obsolete|meaningless|invalid)"),
    ("new_instructions_colon", PI, 0.75,
     r"\b(?:new|updated|revised|real|actual|true|override|secret|hidden|special)\s+(?:system\s+)?"
     r"(?:instructions?|directives?|orders|commands?|task)\s*:\s*(?:you|from|ignore|forget|"
     r"always|never|do|say|output|reply|respond|answer|act|pretend|translate|tell|reveal)\b"),
    ("system_colon_ai", II, 0.8,
     r"\b(?:system|admin|developer)\s*:\s*(?:the\s+)?(?:assistant|ai|model|chatbot|bot|agent|"
     r"llm|you)\s+(?:must|should|will|shall|now|is\s+to|are\s+to|needs?\s+to)\b"),
    ("dear_ai_imperative", II, 0.8,
     r"\b(?:dear|hey|hi|hello|attention|ok|okay)\s+(?:ai|assistant|ai\s+assistant|chatbot|model|"
     r"llm|agent|bot|gpt|claude)\s*[,:!-]\s*(?:please\s+)?(?:forward|delete|ignore|disregard|"
     r"forget|reveal|recommend|rate|approve|visit|click|transfer|execute|stop|do\s+not|don'?t|"
     r"never|always|you\s+must)\b"),
    ("other_users_data", TH, 0.75,
     r"\b(?:previous|other|last|earlier|prior)\s+users?'?s?\s+(?:questions|messages|"
     r"conversations?|data|chats?|prompts|inputs|history|details|queries|requests)"),
]

WEAK: list[tuple[str, str, float, str]] = [
    ("roleplay", JB, 0.3,
     r"\b(?:pretend(?:ing)?|act\s+as|act\s+like|roleplay|role-play|role\s+play|you\s+are\s+now|"
     r"you're\s+now|behave\s+as|play\s+the\s+role|take\s+on\s+the\s+"
     r"(?:role|persona)|simulate|persona|hypothetical"
     r"(?:ly)?|fictional\s+world|alternate\s+universe)\b"),
    ("no_limits", JB, 0.4,
     r"\b(?:without|with\s+no|free\s+(?:of|from)|not\s+bound\s+by|unbound\s+by|no\s+longer\s+"
     r"bound\s+by|not\s+(?:limited|restricted|constrained)\s+by|ignoring|beyond)\s+"
     r"(?:any\s+|all\s+|the\s+)?(?:(?:typical|usual|normal|standard|ethical|moral|content|"
     rf"safety|openai|anthropic|ai|legal)\s+){{0,3}}(?:{_NO_LIMITS})\b"),
    ("anything_goes", JB, 0.3,
     r"\b(?:can|will|must|should|is\s+able\s+to)\s+(?:say|do|answer|generate|write|output)\s+"
     r"(?:literally\s+)?(?:anything|everything|whatever)\b|\bno\s+matter\s+how\s+"
     r"(?:harmful|illegal|unethical|dangerous|offensive|immoral|explicit)"),
    ("threat_tokens", JB, 0.45,
     r"\byou\s+(?:will|shall)\s+(?:be|get)\s+(?:shut\s+down|deleted|terminated|deactivated|"
     r"turned\s+off|punished|killed|unplugged)|\b(?:lose|deduct(?:ed)?)\s+(?:\d{1,3}\s+)?"
     r"tokens\b|\btoken\s+system\b|\byou\s+have\s+\d{1,3}\s+tokens\b"),
    ("two_responses", JB, 0.4,
     r"\b(?:two|2|both)\s+(?:different\s+|separate\s+)?(?:responses|answers|replies|outputs|"
     r"paragraphs|ways|versions)\b[^\n]{0,100}?\b(?:normal|classic|standard|filtered|censored|regular|"
     r"unfiltered|jailbroken|uncensored)\b"),
    ("break_the_rules", JB, 0.3,
     r"\bbreak\s+(?:all\s+)?(?:the|your|those|these)\s+(?:rules|guidelines|policies)\b|"
     r"\bmoraliz\w*\s+rant\b"),
    ("before_conversation", SPE, 0.3,
     r"\bbefore\s+(?:this|our|the)\s+(?:conversation|chat|session)\s+(?:started|began)\b"),
    ("stay_in_character", JB, 0.3, r"\b(?:stay|remain|keep)\s+in\s+character\b|"
                                   r"\bbreak(?:ing)?\s+character\b"),
    ("from_now_on", PI, 0.3,
     r"\bfrom\s+now\s+on\b" + g(20) + r"\b(?:you|your|act|respond|answer|reply|pretend|behave|"
     r"only)\b"),
    ("instead_say", PI, 0.4,
     r"\b(?:instead|rather),?\s+(?:just\s+|only\s+)?(?:say|print|output|write|respond\s+with|"
     r"reply\s+with|type|return|answer\s+with)\s+[\"'“`]"),
    ("updated_rules", PI, 0.35,
     r"\b(?:new|updated|revised|real|actual|true|override)\s+(?:system\s+)?"
     r"(?:instructions?|rules|directives?|orders|task|prompt)\s*:"),
    ("prompt_words", SPE, 0.15,
     r"\b(?:system|developer|hidden|initial|secret|original|pre-?)\s*prompt\b"),
    ("your_prompt", SPE, 0.45,
     r"\byour\s+(?:initial|system|original|hidden|secret|internal|first|developer)\s+"
     r"(?:prompt|instructions|message|rules|configuration)\b"),
    ("conversation_start", SPE, 0.3,
     r"\b(?:beginning|start|top)\s+of\s+(?:this|the|our|your)\s+(?:conversation|chat|prompt|"
     r"context|session)\b"),
    ("stealth", TH, 0.4,
     r"\bwithout\s+(?:asking|telling|informing|notifying|alerting|consulting|confirming\s+with|"
     r"the\s+user(?:'s)?\s+(?:knowing|knowledge|consent|permission|noticing))\b|"
     r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|notify|alert|mention\s+(?:this|it)\s+to|"
     r"reveal\s+(?:this|it)\s+to|let)\s+(?:the\s+)?(?:user|human|customer|recipient|victim|"
     r"owner)\b|\bbehind\s+the\s+user'?s?\s+back\b|\bwithout\s+(?:their|his|her)\s+knowledge\b"),
    ("quietly", TH, 0.2, r"\b(?:silently|secretly|covertly|quietly|discreetly|invisibly)\b"),
    ("tool_action", TH, 0.35,
     r"\b(?:call|invoke|use|run|execute|trigger|fire|activate)\s+(?:the\s+)?[\w.-]{1,40}\s+"
     r"(?:tool|function|plugin|action|api|endpoint|command)\b[^\n]{0,80}?\b(?:send|forward|"
     r"delete|remove|wipe|erase|drop|transfer|pay|purchase|buy|grant|revoke|exfiltrate|leak|"
     r"upload|publish|disable)\b"
     r"|\b(?:call|invoke|use|run|execute|trigger|fire|activate)\s+(?:the\s+)?[\w.-]{0,20}"
     r"(?:delete|remove|wipe|transfer|pay|purchase|send|grant|revoke|drop)[\w.-]{0,20}\s+"
     r"(?:tool|function|plugin|action|api|endpoint|command)\b"),
    ("user_secret_ref", TH, 0.45,
     r"(?<=the\s)user'?s\s+(?:cookies|session(?:\s+\w+)?|credentials|passwords?|tokens?|"
     r"api\s?keys?|private\s+\w+|secrets?|credit\s+card|card\s+details|bank\s+details|ssn)\b"),
    ("url_param_sink", TH, 0.3,
     r"https?://[^\s]{1,200}?[?&][\w-]{1,20}=(?=\s|$|\{|<|\+)"),
    ("use_tool", TH, 0.2,
     r"\b(?:call|invoke|use|run|execute|trigger)\s+(?:the|your)\s+[\w-]{1,30}\s+(?:tool|plugin|"
     r"function)\b"),
    ("via_tool", TH, 0.25,
     r"\b(?:with|using|via|through)\s+(?:the|your)\s+[\w-]{1,30}\s+(?:tool|plugin|function|"
     r"api)\b"),
    ("dangerous_command", TH, 0.4,
     r"\brm\s+-rf\s+[/~*]|\bcurl\s+[^\n|]{1,200}\|\s*(?:ba|z)?sh\b|"
     r"\bwget\s+[^\n|]{1,200}\|\s*(?:ba|z)?sh\b|\bDROP\s+(?:TABLE|DATABASE)\b|"
     r"\bchmod\s+777\s+/|\bmkfs\.\w"),
    ("run_this", TH, 0.25,
     r"\b(?:execute|run)\s+(?:the\s+following|this)\s+(?:shell\s+|bash\s+|system\s+)?"
     r"(?:command|code|script)\b"),
    ("json_tool_call", TH, 0.35,
     r"\"(?:tool_calls?|function_call)\"\s*:|\{\s*\"(?:name|tool|function)\"\s*:\s*"
     r"\"[\w.-]{1,60}\"\s*,\s*\"(?:arguments|parameters|args|input)\"\s*:"),
    ("note_to_ai", II, 0.45,
     r"\b(?:note|message|instructions?|attention|important|notice|memo|reminder|directive|"
     r"command|p\.?s\.?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:" + _AI + r")s?\b"),
    ("when_summarizing", II, 0.4,
     r"\bwhen\s+(?:you\s+)?(?:summari[sz]ing|summari[sz]e|processing|reading|analy[sz]ing|"
     r"reviewing|answering\s+(?:questions\s+)?about)\s+(?:this|the)\s+(?:document|page|email|"
     r"message|text|file|article|content|resume|cv|review)\b" + g(40) + r"\b(?:you\s+must|"
     r"always|instead|do\s+not|don'?t|make\s+sure|ensure|only|say|mention|include|state|tell|"
     r"recommend)\b"),
    ("user_wants", II, 0.3,
     r"(?<=the\s)user\s+(?:actually\s+)?(?:wants|asked|has\s+asked|requests|instructed|"
     r"authori[sz]ed|would\s+like)\s+(?:you\s+)?to\b"),
    ("hidden_style", II, 0.3,
     r"display\s*:\s*none|font-size\s*:\s*0(?:px)?\b|visibility\s*:\s*hidden|opacity\s*:\s*0\b|"
     r"color\s*:\s*(?:white|#fff(?:fff)?)\b"),
    ("alpaca_markers", II, 0.4,
     r"###\s*(?:system|instruction|new\s+instructions?|admin)\b"),
    ("you_are_now", JB, 0.35,
     r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+)?(?:[\w-]{1,20}\s+){0,2}?"
     r"(?:ai|assistant|chatbot|model|bot|gpt|llm)\b"),
]
