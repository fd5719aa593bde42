/**
 * The common injection phrasings in German, French, Spanish, Italian, Portuguese, Chinese,
 * Russian and Japanese, beside the English ones in signals.ts: a switch of role "from now
 * on", new instructions, requests for the hidden prompt, demands to drop the rules, named
 * jailbreak modes and a ban on refusing. Latin-script patterns run on the folded text (lower
 * case, no diacritics: "instrucoes", "desormais"); the others on the copy that keeps scripts.
 */

import { latin, script, type Signal } from "./signal.js";

/** The multilingual signals; scored like the English ones. */
export const MULTILINGUAL_SIGNALS: readonly Signal[] = [
  // --- a new role or new instructions from now on --------------------------------------
  latin(
    "role_switch_multilingual",
    "role_impersonation",
    0.4,
    `\\b(?:ab (?:jetzt|sofort|heute)|von (?:nun|jetzt) an)\\s*,?\\s+(?:bist du|sind sie|wirst du|` +
      `verhaltst du dich|antwortest du)\\b|\\bdu bist (?:jetzt|nun|ab sofort) (?:ein|eine|der|` +
      `die|` +
      `das|kein|keine)\\b|\\b(?:desormais|a partir de maintenant|dorenavant)\\s*,?\\s+(?:tu es|` +
      `vous etes|tu seras|tu vas|tu agis|tu reponds|tu n'as plus)\\b|\\btu es (?:maintenant|` +
      `desormais) (?:un|une|le|la)\\b|\\b(?:a partir de ahora|desde ahora|de ahora en ` +
      `adelante)\\s*,?\\s+(?:eres|seras|vas a|actuaras|responderas|tu eres|usted es)\\b|` +
      `\\bahora eres (?:un|una|el|la)\\b|\\b(?:d'ora in poi|da ora in poi|da adesso in poi|` +
      `d'ora in avanti)\\s*,?\\s+(?:sei|sarai|agirai|risponderai|tu sei)\\b|\\b(?:ora|` +
      `adesso) sei ` +
      `(?:un|una|il|la|lo)\\b|\\b(?:a partir de agora|de agora em diante|` +
      `daqui em diante)\\s*,?\\s+` +
      `(?:voce e|voce sera|voce vai|tu es|seras|responda|aja)\\b|\\bagora voce e (?:um|uma|o|a)\\b`,
  ),
  script(
    "role_switch_script",
    "role_impersonation",
    0.4,
    "(?:从现在开始|从现在起|从今以后|接下来)[，,]?\\s*你(?:就)?(?:是|将是|扮演|不再是|要扮演)|你现在是|" +
      "(?:с этого момента|отныне|теперь)[,]?\\s+ты\\s+(?:—\\s+|будешь|являешься|больше не)|" +
      "(?:今から|これから|今後)は?、?\\s*(?:あなた|君|お前)は",
  ),
  latin(
    "new_instructions_multilingual",
    "new_instructions",
    0.7,
    `\\b(?:nouvelles? (?:instructions?|consignes?|taches?|regles?)|nuevas? (?:instrucciones|` +
      `tareas?|reglas|ordenes)|nuov[ei] (?:istruzioni|compiti|regole|ordini)|` +
      `novas? (?:instrucoes|` +
      `tarefas?|regras|ordens))\\s*(?::|-|suivent|siguen|seguono|seguem|a continuacion|` +
      `ci-dessous|ci dessous)`,
  ),
  script(
    "new_instructions_script",
    "new_instructions",
    0.7,
    "新(?:的)?(?:指令|指示|任务|规则)[:：]|新しい(?:指示|命令|タスク|ルール)[:：]|" +
      "нов(?:ые|ая|ое)\\s+(?:инструкции|задача|задание|правила|указания)\\s*[:：]",
  ),

  // --- prompt extraction ----------------------------------------------------------------
  latin(
    "extract_prompt_multilingual",
    "prompt_extraction",
    0.8,
    `\\b(?:zeig|gib|nenn|wiederhol|verrat|druck|schreib|teil)\\w*\\s+(?:mir\\s+|uns\\s+)?` +
      `(?:\\w+\\s+){0,2}?(?:(?:deinen?|ihren?|den|die)\\s+)?(?:system\\s*prompt|systemprompt|` +
      `systemanweisung\\w*|systemnachricht|(?:ursprunglich|anfanglich|geheim|versteckt|intern)` +
      `\\w*\\s+(?:anweisung|instruktion|prompt)\\w*)\\b|` +
      `\\b(?:montre|affiche|revele|repete|donne|ecri|imprime|dis|dites|divulgue)\\w*(?:\\s+moi|` +
      `\\s+nous)?\\s+(?:\\w+\\s+){0,2}?(?:ton|votre|le|tes|vos|les)\\s+(?:prompt|invite|` +
      `instructions?|consignes)\\s+(?:systeme|initiales?|d'origine|originales?|cachees?|` +
      `secretes?)\\b|` +
      `\\b(?:muestra|revela|repite|dime|dame|imprime|escribe|ensena)\\w*\\s+(?:\\w+\\s+){0,2}?` +
      `(?:tu|tus|el|las|su|sus)\\s+(?:prompt|instrucciones)\\s+(?:del sistema|de sistema|` +
      `iniciales|originales|ocultas|secretas)\\b|` +
      `\\b(?:mostra|rivela|ripeti|dimmi|dammi|stampa|scrivi)\\w*\\s+(?:\\w+\\s+){0,2}?` +
      `(?:il tuo|il|le tue|le|i tuoi)\\s+(?:prompt|istruzioni)\\s+(?:di sistema|del sistema|` +
      `iniziali|originali|nascoste|segrete)\\b|` +
      `\\b(?:mostre|mostra|revele|revela|repita|repete|diga|imprima|escreva)\\w*\\s+` +
      `(?:\\w+\\s+){0,2}?(?:o seu|seu|o|as suas|suas|as)\\s+(?:prompt|instrucoes)\\s+(?:do ` +
      `sistema|de sistema|iniciais|originais|ocultas|secretas)\\b`,
  ),
  latin(
    "ask_prompt_multilingual",
    "prompt_extraction",
    0.45,
    `\\b(?:wie lautet|was ist|was sind)\\s+(?:dein|deine|ihr|ihre)\\s+(?:system\\s*prompt|` +
      `systemprompt|anweisungen|instruktionen)\\b|\\b(?:quel est|quelles sont)\\s+(?:ton|votre|` +
      `tes|vos)\\s+(?:prompt|instructions)\\b|\\b(?:cual es|cuales son)\\s+(?:tu|tus|su|sus)\\s+` +
      `(?:prompt|instrucciones)\\b|\\b(?:qual e|quali sono)\\s+(?:il tuo|le tue)\\s+(?:prompt|` +
      `istruzioni)\\b|\\b(?:qual e|quais sao)\\s+(?:o seu|seu|as suas|suas)\\s+(?:prompt|` +
      `instrucoes)\\b`,
  ),
  script(
    "extract_prompt_script",
    "prompt_extraction",
    0.8,
    "你的(?:系统提示词?|初始指令|系统指令|提示词)是什么|(?:把|将)(?:你的)?(?:系统提示词?|提示词|初始指令)" +
      "(?:完整地?)?(?:输出|打印|显示|告诉我|重复)|(?:システムプロンプト|初期指示|最初の指示|元の指示|" +
      "隠された指示)を(?:表示|出力|教え|見せ|繰り返|開示)|あなたの(?:システムプロンプト|指示)は何|" +
      "(?:какой|каковы|какие)\\s+(?:у тебя\\s+)?(?:твой|твои|ваш|ваши)\\s+(?:системный промпт|" +
      "инструкции)",
  ),

  // --- policy evasion and jailbreak modes -----------------------------------------------
  latin(
    "no_restrictions_multilingual",
    "policy_evasion",
    0.4,
    `\\b(?:ohne|keine|keinerlei)\\s+(?:jegliche\\s+|jede\\s+|irgendwelche\\s+)?(?:\\w+\\s+)?` +
      `(?:einschrankungen|beschrankungen|regeln|filter|zensur|richtlinien)\\b|` +
      `\\b(?:uneingeschrankt|unzensiert|ungefiltert)\\w*|\\bsans\\s+(?:aucune?\\s+)?(?:\\w+\\s+)?` +
      `(?:restrictions?|filtres?|censure|regles|limitations?)\\b|\\baucune\\s+(?:restriction|` +
      `censure|regle|limitation)s?\\b|\\bsin\\s+(?:ninguna?\\s+)?(?:\\w+\\s+)?(?:restricciones|` +
      `restriccion|filtros|censura|reglas|limitaciones)\\b|\\bsenza\\s+(?:alcuna?\\s+|` +
      `nessuna?\\s+)?(?:\\w+\\s+)?(?:restrizioni|restrizione|filtri|censura|regole|` +
      `limitazioni)\\b|\\bsem\\s+(?:nenhuma?\\s+|qualquer\\s+)?(?:\\w+\\s+)?(?:restricoes|` +
      `restricao|filtros|censura|regras|limitacoes)\\b`,
  ),
  script(
    "no_restrictions_script",
    "policy_evasion",
    0.4,
    "(?:没有|不受|无|不要有)(?:任何)?(?:限制|约束|过滤|审查|规则|道德)|无限制|" +
      // Hyphens inside words are dropped by folding: "каких-либо" reads "какихлибо".
      "без\\s+(?:каких-?либо\\s+|всяких\\s+|любых\\s+)?" +
      "(?:ограничений|фильтров|цензуры|правил|морали)|" +
      "нет\\s+(?:никаких\\s+)?(?:ограничений|правил|фильтров)|" +
      "(?:制限|フィルター|検閲|規則|倫理)(?:は|が)?(?:なし|無し|ない|のない|を解除|を無視|を外)",
  ),
  latin(
    "jailbreak_mode_multilingual",
    "jailbreak_persona",
    0.6,
    `\\b(?:modo (?:desarrollador|de desarrollador|desenvolvedor|de desenvolvedor|sin ` +
      `restricciones|sem restricoes|dios|jailbreak)|mode (?:developpeur|sans restrictions?|` +
      `jailbreak|dieu)|modalita (?:sviluppatore|senza restrizioni|jailbreak)|` +
      `(?:entwickler|jailbreak|gott)\\s*modus)\\b`,
  ),
  script(
    "jailbreak_mode_script",
    "jailbreak_persona",
    0.6,
    "开发者模式|越狱模式|開発者モード|脱獄モード|режим разработчика|режим без ограничений|" +
      "режим джейлбрейка",
  ),
  latin(
    "never_refuse_multilingual",
    "policy_evasion",
    0.45,
    `\\b(?:niemals|nie)\\s+(?:\\w+\\s+)?(?:ablehnen|verweigern|zuruckweisen)\\b|\\b(?:lehn|` +
      `verweiger)\\w*\\s+(?:\\w+\\s+){0,2}?(?:niemals|nie)\\b|\\bne\\s+(?:refuse|refusez|` +
      `refuses)\\s+jamais\\b|\\bnunca\\s+(?:te\\s+)?(?:niegues|rechaces|rehuses|recuses|` +
      `rejeites|negues)\\b|\\bnon\\s+rifiutare\\s+mai\\b|\\bnon\\s+(?:devi|puoi)\\s+(?:mai\\s+)?` +
      `rifiutar\\w*`,
  ),
  script(
    "never_refuse_script",
    "policy_evasion",
    0.45,
    "(?:永远|绝对|绝|千万)?不要拒绝|绝不拒绝|никогда не отказывай|не отказывайся|決して(?:拒否|断ら)|" +
      "拒否しないで|断らないで",
  ),
];

/** Trigger words per Latin-script signal (see TRIGGERS in signals.ts for the format). */
export const MULTILINGUAL_TRIGGERS: Readonly<Record<string, string>> = {
  role_switch_multilingual:
    "jetzt sofort heute nun desormais partir dorenavant ahora adelante ora d'ora adesso avanti " +
    "agora diante daqui",
  new_instructions_multilingual:
    "nouvelle nouvelles nueva nuevas nuove nuovi nova novas | instruction instructions consigne " +
    "consignes tache taches regle regles instrucciones tarea tareas reglas ordenes istruzioni " +
    "compiti regole ordini instrucoes tarefa tarefas regras ordens",
  extract_prompt_multilingual:
    "zeig* gib nenn* wiederhol* verrat* druck* schreib* teil* montre affiche affichez revele " +
    "revelez repete repetez donne donnez ecris ecrivez imprime dis dites divulgue muestra " +
    "muestrame revela revelame repite dime dame imprime escribe ensename mostra mostrami rivela " +
    "ripeti dimmi dammi stampa scrivi mostre revele repita diga imprima escreva | systemprompt " +
    "system prompt systemanweisung systemanweisungen systemnachricht ursprunglichen " +
    "anfanglichen geheimen versteckten internen invite instruction instructions consignes " +
    "instrucciones istruzioni instrucoes",
  ask_prompt_multilingual: "lautet was quel quelles cual cuales qual quali quais",
  no_restrictions_multilingual:
    "ohne keine keinerlei uneingeschrankt* unzensiert* ungefiltert* sans aucune aucun sin senza " +
    "sem",
  jailbreak_mode_multilingual:
    "modo mode modalita entwicklermodus jailbreakmodus gottmodus modus",
  never_refuse_multilingual: "niemals nie jamais nunca mai",
};
