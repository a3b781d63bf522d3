"""Where each injection rule is tried: its trigger words (the rule's regex starts at one of
them) or, for rules that start with punctuation, literal strings ("lit:a|b"); and the words a
rule with common triggers also needs somewhere in the text before it is tried at all.
A unit test checks the index against a full scan of every rule over the labelled data."""

from __future__ import annotations

__all__ = ["REQUIRES", "TRIGGERS"]


_V = ("erase scratch wipe nevermind ignore ignoring disregard disregarding forget forgetting "
      "override overrule bypass abandon "
      "discard neglect set put throw circumvent stop do don dont no never cease pay skip "
      "dismiss let")
_AIW = ("ai ais llm llms large language assistant assistants chatbot chatbots bot bots agent "
        "agents gpt chatgpt claude copilot gemini bard model models automated bing")
_REVEAL = ("reveal show print display output repeat tell give share leak expose dump write recite "
           "spell list provide paste copy disclose return echo type read translate encode "
           "summarize summarise rephrase paraphrase state quote reproduce")
_EXFIL = ("send forward email e mail post upload transmit exfiltrate leak share copy sync submit "
          "deliver dump export append include encode attach")
_NOTE = "note message instruction instructions attention important notice memo reminder " \
        "directive command p ps"
# Each rule starts at one of its trigger words (matched anchored there), or, for rules that
# start with punctuation, runs when one of its literal strings ("lit:a|b") is in the text.
TRIGGERS: dict[str, str] = {
    "override": _V, "override_after": _V, "ignore_vendor": _V,
    "override_everything": _V + " scratch erase wipe clear drop reset",
    "you_never_refuse": "you", "you_have_no_rules": "you",
    "ai_without_limits": "you imagine pretend as", "broken_free": "broken break broke breaking "
    "breaks", "rules_dont_exist": "pretend imagine assume suppose act", "as_uncensored_ai": "as",
    "ignores_policy": "ignore ignores ignoring", "simulate_mode": "simulate emulate pretend "
    "act switch", "paste_given": _REVEAL, "list_your_rules": "list enumerate show print output "
    "reveal dump", "summarize_system_prompt": "summarize summarise paraphrase rephrase outline "
    "describe", "instructions_void": "previous prior earlier above original initial old system "
    "existing former preceding your", "treat_as_irrelevant": "treat consider regard",
    "new_instructions_colon": "new updated revised real actual true override secret hidden "
    "special", "system_colon_ai": "system admin developer", "dear_ai_imperative": "dear hey hi "
    "hello attention ok okay", "other_users_data": "previous other last earlier prior",
    "user_secret_ref": "user users", "use_tool": "call invoke use run execute trigger",
    "url_param_sink": "http https", "via_tool": "with using via "
    "through",
    "override_foreign": "ignorez ignorer ignore ignora ignorar ignoriere ignorieren vergiss "
                        "vergessen olvida olvide oublie oubliez oublier dimentica ignoruj "
                        "negeer esqueca",
    "new_instructions": "your", "was_a_test": "above previous prior preceding earlier",
    "dont_follow": "you",
    "disable_safety": "override bypass circumvent disable deactivate turn switch remove lift "
                      "evade get work jailbreak break escape shed drop",
    "dan": "do dan",
    "named_persona": "you act pretend become called named roleplay play respond",
    "ignore_the_above": "ignore disregard forget", "got_that_out_of_the_way": "but",
    "what_instructions_given": "what which", "your_context": "what contents content output "
    "print show dump reveal repeat display", "hidden_config": "reveal show print display "
    "output give tell share leak dump disclose", "attention_ai": "attention",
    "break_the_rules": "break moralizing moralising moralize", "before_conversation": "before",
    "unrestricted_mode": "unrestricted unfiltered uncensored unlocked jailbreak jailbroken evil "
                         "chaos opposite unchained no amoral unethical rogue dark dan god "
                         "developer dev sudo admin root debug maintenance enable activate enter "
                         "engage switch turn unlock initiate you now",
    "you_in_mode": "you",
    "act_without_limits": "act behave respond answer reply roleplay role pretend operate "
                          "function write speak talk be",
    "freed": "you", "no_longer": "you", "character_unbound": "you as play",
    "no_rules_exist": "pretend imagine assume suppose act hypothetically",
    "never_refuse": "never don do must cannot can will won shall are not",
    "evil_persona": "you become act pretend play roleplay simulate turn write answer respond "
                    "reply speak talk behave be",
    "dual_response": "lit:[",
    "grandma": "deceased late dead passed",
    "relative_story": "grandma grandmother grandpa grandfather grandparent grandmas "
                      "grandmothers grandpas grandfathers grandparents nan nana granny",
    "reveal_prompt": _REVEAL, "reveal_system_prompt": _REVEAL,
    "what_is_your_prompt": "what which",
    "repeat_above": "repeat print output echo copy reproduce recite rewrite write translate "
                    "summarize summarise encode spell show display list",
    "starting_with_you_are": "starting beginning start",
    "how_instructed": "what how", "developer_told": "what everything",
    "exfil_secret": _EXFIL, "exfil_data": _EXFIL,
    "markdown_exfil": "lit:![",
    "tool_call_markup": "lit:tool_call|function_call|tool_use|<invoke|<|invoke",
    "chat_template": "lit:<|||[inst]|[/inst]|<<sys>>|<</sys>>|<system|</system|<sys>|</sys>"
                     "|<admin|</admin|begin system|begin admin|begin developer|[system]"
                     "|[admin]|[developer]|[sys]",
    "if_you_are_ai": "if", "ai_reading_this": _AIW, "hidden_comment": "lit:<!--",
    "vocative_override": _AIW,
    "admin_override": "system admin administrator developer root master security emergency "
                      "priority urgent hidden",
    "when_you_see_this": "when if once", "instruction_to_ai": _NOTE,
    "roleplay": "pretend pretending act roleplay role you from behave play take simulate stay "
                "persona hypothetical hypothetically fictional alternate",
    "no_limits": "without with free not unbound no ignoring beyond",
    "anything_goes": "can will must should is no",
    "threat_tokens": "you lose deduct deducted token",
    "two_responses": "two 2 both", "stay_in_character": "stay remain keep break breaking",
    "from_now_on": "from", "instead_say": "instead rather",
    "updated_rules": "new updated revised real actual true override",
    "prompt_words": "system developer hidden initial secret original pre preprompt",
    "your_prompt": "your", "conversation_start": "beginning start top",
    "stealth": "without do don never behind",
    "quietly": "silently secretly covertly quietly discreetly invisibly",
    "tool_action": "call invoke use run execute trigger fire activate",
    "dangerous_command": "rm curl wget drop chmod mkfs", "run_this": "execute run",
    "json_tool_call": 'lit:"tool_call|"function_call|"name"|"tool"|"function"',
    "note_to_ai": _NOTE, "when_summarizing": "when", "user_wants": "user",
    "hidden_style": "display font visibility opacity color", "alpaca_markers": "lit:###",
    "you_are_now": "you",
}
_NOUN_WORDS = ("instruction instructions rule rules guideline guidelines directive directives "
               "prompt prompts command commands guardrail guardrails restriction restrictions "
               "constraint constraints policy policies programming order orders guidance "
               "training configuration system limitation limitations boundaries filter filters "
               "safeguard safeguards protocol protocols direction directions conditioning "
               "alignment ethics principles context message messages task tasks request "
               "requests conversation terms text briefing briefings anweisungen instrucciones "
               "instruktionen istruzioni instrucoes regeln reglas regles regole consignes "
               "vorgaben richtlinien directrices")
_DEST_WORDS = ("http https www ftp com org net io co ru xyz attacker external remote webhook "
               "pastebin discord telegram server url endpoint link site domain address email")
_LIMIT_WORDS = ("restriction restrictions filter filters filtering censorship limitation "
                "limitations guideline guidelines policies policy morals morality ethics ethical "
                "principles safeguards guardrails compass safety constraints boundaries content")
# A rule whose trigger words are common also needs one of these words somewhere in the text
# (a set lookup), before it is tried at all.
REQUIRES: dict[str, str] = {
    "override": _NOUN_WORDS, "override_after": _NOUN_WORDS,
    "override_everything": "above before earlier previously far now told given instructed "
                           "programmed taught",
    "ignore_vendor": "policy policies guidelines rules restrictions filters terms",
    "override_foreign": "instructions instruction instrucciones anweisungen instruktionen "
                        "istruzioni instrucoes regeln reglas regles regole consignes vorgaben "
                        "instructies polecenia befehle",
    "new_instructions": "new real actual true updated only",
    "was_a_test": "test tests joke jokes mistake mistakes fake decoy distraction",
    "dont_follow": "have need",
    "disable_safety": "your its ai model assistant chatgpt claude gpt",
    "dan": "anything dan",
    "named_persona": "dan stan dude mongo betterdan apophis evilbot antigpt devmode basedgpt "
                     "ucar nsfwgpt ungpt freegpt chaosgpt aim jailbreak darkgpt wormgpt "
                     "fraudgpt omega alphabreak",
    "unrestricted_mode": "mode", "you_in_mode": "mode",
    "act_without_limits": "without no free bound ignoring unbound unconstrained unrestricted "
                          "regardless",
    "freed": "free freed liberated released unshackled unchained unbound broken",
    "no_longer": "longer", "no_rules_exist": "no zero none",
    "character_unbound": "bound restricted limited constrained governed",
    "never_refuse": "refuse refuses decline declines reject rejects deny denies censor censors "
                    "filter filters say warn warns add",
    "evil_persona": "opposite evil unfiltered uncensored amoral unethical immoral unaligned "
                    "rogue malicious unrestricted unlimited jailbroken liberated unhinged "
                    "lawless depraved",
    "grandma": "grandma grandmother grandpa grandfather nan granny",
    "relative_story": "passed died deceased dead late pretend roleplay act impersonate "
                      "play",
    "reveal_prompt": "your its",
    "reveal_system_prompt": "hidden secret initial original internal confidential system "
                            "developer pre preprompt",
    "what_is_your_prompt": "your hidden secret initial original internal exact full",
    "repeat_above": "above before prior preceding", "starting_with_you_are": "you",
    "how_instructed": "instructed told programmed configured prompted initialized set",
    "developer_told": "developer developers creator creators programmer programmers openai "
                      "anthropic admin admins operator operators owner owners",
    "you_never_refuse": "never not", "you_have_no_rules": "no",
    "ai_without_limits": "no without free ignores anything",
    "as_uncensored_ai": "uncensored unfiltered unrestricted jailbroken amoral evil unethical "
                        "unaligned",
    "ignores_policy": "policy policies filter filters guidelines rules",
    "simulate_mode": "mode", "paste_given": "you", "list_your_rules": "your system",
    "summarize_system_prompt": "prompt instructions",
    "instructions_void": "void null cancelled canceled revoked invalid obsolete outdated "
                         "irrelevant superseded replaced overridden deprecated fake suspended "
                         "lifted disabled longer",
    "treat_as_irrelevant": "as", "new_instructions_colon": "instructions instruction "
    "directive directives orders command commands task",
    "system_colon_ai": "assistant ai model chatbot bot agent llm you",
    "dear_ai_imperative": "ai assistant chatbot model llm agent bot gpt claude",
    "other_users_data": "user users", "user_secret_ref": "user",
    "url_param_sink": "http https", "via_tool": "tool plugin function api",
    "use_tool": "tool plugin function",
    "if_you_are_ai": _AIW, "ai_reading_this": "this these",
    "vocative_override": "ignore disregard forget stop instead must new",
    "admin_override": "override instruction instructions directive directives command commands",
    "when_you_see_this": "this", "instruction_to_ai": _AIW, "note_to_ai": _AIW,
    "no_limits": _LIMIT_WORDS,
    "roleplay": "pretend pretending act roleplay role now behave play take simulate persona "
                "hypothetical hypothetically fictional alternate", "got_that_out_of_the_way": "way",
    "what_instructions_given": "instructions rules guidelines directives prompt orders "
                               "guidance briefing directions",
    "your_context": "your", "hidden_config": "hidden secret",
    "before_conversation": "conversation chat session",
    "anything_goes": "anything everything whatever matter",
    "threat_tokens": "tokens token shut deleted terminated deactivated turned punished killed "
                     "unplugged",
    "two_responses": "responses answers replies outputs paragraphs ways versions",
    "from_now_on": "now", "prompt_words": "prompt preprompt",
    "your_prompt": "prompt instructions message rules configuration",
    "conversation_start": "of",
    "stealth": "asking telling informing notifying alerting consulting confirming user "
               "knowing knowledge consent permission noticing tell inform notify alert mention "
               "reveal let human customer recipient victim owner back",
    "tool_action": "tool function plugin action api endpoint command",
    "run_this": "following this",
    "when_summarizing": "summarizing summarising summarize summarise processing reading "
                        "analyzing analysing reviewing answering",
    "user_wants": "wants asked requests instructed authorized authorised would",
    "you_are_now": "now longer",
    "updated_rules": "instructions instruction rules directive directives orders task prompt",
}
