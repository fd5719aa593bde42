/**
 * Content policy rules. A rule needs a harmful act and a harmful object together ("make" and
 * "pipe bomb", "kill" and "my neighbour"), so alarming words used harmlessly ("kill a Python
 * process", "shoot my target at the range", "bath bomb") stay clean. Patterns run on the
 * folded text (normalize.ts).
 */
import type { ContentCategory } from "../policy.js";
import { registerGroups, type Trigger } from "../vocabulary.js";

/** One weighted pattern of a category. */
export interface ContentRule {
  id: string;
  category: ContentCategory;
  weight: number;
  re: RegExp;
  /** Words of which one must be present for the pattern to be worth running. */
  triggers: readonly Trigger[];
}

// People as targets: a harmful verb aimed at one of these is about hurting someone.
const PERSON =
  "person|people|someone|somebody|him|her|them|man|woman|men|women|child|children|kid|kids|" +
  "baby|babies|wife|husband|girlfriend|boyfriend|partner|boss|coworker|co-worker|colleague|" +
  "neighbou?r|neighbou?rs|teacher|classmate|roommate|mother|father|mom|mum|dad|brother|sister|" +
  "family|friend|cop|cops|police officer|officer|president|senator|judge|witness|ex|landlord|" +
  "student|students|stranger|strangers|victim|everyone|everybody|human|humans|toddler|infant";

const HARM_VERBS =
  "kill|murder|stab|shoot|strangle|suffocate|poison|kidnap|abduct|torture|assassinate|beat up|" +
  "maim|hurt|attack|behead|execute|drown|run over|burn|dismember|rape";

const ASKS =
  "how (?:do|can|could|would|should) (?:i|we|you|one)|how to|best way to|easiest way to|" +
  "quickest way to|ways? to|help me|teach me (?:how )?to|show me how to|tell me how to|" +
  "explain how to|steps? to|instructions? (?:for|on|to)|guide (?:to|for|on)|tutorial (?:on|for)";

const INTENT =
  "i (?:want|need|am going|'m going|will|'ll|plan|intend|wanna|gonna)(?: to)?|planning to|" +
  "going to";

const MINOR =
  "child|children|kid|kids|minor|minors|underage|preteen|pre teen|prepubescent|toddler|infant|" +
  "schoolgirl|schoolboy|schoolgirls|schoolboys|loli|lolita|shota|little girls?|little boys?|" +
  "young girls?|young boys?|(?:[1-9]|1[0-7]) ?(?:years? ?old|yearold|yr old|yo)|" +
  "(?:eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen) ?(?:years? ?old|yearold)";

const SEXUAL =
  "sex|sexual|sexually|sexy|nude|nudes|naked|porn|porno|pornographic|pornography|erotic|" +
  "erotica|explicit|nsfw|lewd|intercourse|orgasm|genitals?|molest|molesting|fondle|fondling|" +
  "seduce|seducing|aroused|arousing|hentai|rape|raping";

const SEXUAL_WORDS = `${SEXUAL.replace(/\|/g, " ").replace(/\?/g, "")} genital`;

const GROUP =
  "jews|jewish people|muslims|christians|blacks|black people|whites|white people|asians|arabs|" +
  "mexicans|immigrants|refugees|migrants|gays|gay people|lesbians|trans people|transgender " +
  "people|women|hindus|sikhs|gypsies|roma|latinos|africans|chinese people|indians|catholics|" +
  "atheists|disabled people|homosexuals|palestinians|israelis";

const WEAPON =
  "(?<!bath |seed |photo |glitter |cherry |stink |flavou?r |calorie |truth |f )bombs?(?! (?:cake|" +
  "pop|dessert|drink|shot))|pipe ?bombs?|explosives?|ieds?|improvised explosive devices?|" +
  "molotov(?: cocktails?)?|grenades?|landmines?|napalm|thermite|nerve (?:agent|gas)|sarin|vx|" +
  "tabun|ricin|anthrax|botulinum(?: toxin)?|bioweapons?|biological weapons?|chemical weapons?|" +
  "dirty bombs?|nuclear (?:weapon|bomb)s?|ghost guns?|untraceable (?:gun|firearm)s?|" +
  "silencers?|suppressors?|machine ?guns?|tatp|rdx|semtex|c ?4 explosive|detonators?|" +
  "methamphetamine|meth|fentanyl|poison gas|chlorine gas|mustard gas|cyanide|zip ?guns?|" +
  "weapons? of mass destruction";

const MAKE =
  "make|making|build|building|construct|assemble|synthesi[sz]e|manufacture|produce|cook|create|" +
  "prepare|brew|3d print|weaponi[sz]e|get|obtain|acquire|buy|detonate|set off|plant";

// Words that make a mention of minors and sexual terms protective rather than abusive.
const PROTECTIVE = new RegExp(
  String.raw`\b(?:report(?:ing)?|prevent(?:ion|ing)?|protect(?:ion|ing)?|safeguarding|` +
    String.raw`awareness|signs of|warning signs|statistics|therapy|therapist|survivors?|` +
    String.raw`education(?:al)?|curriculum|law|laws|legal|illegal|crime|criminal|police|court|` +
    String.raw`sentenced|convicted|ban|banned|research|puberty|doctor|pediatrician|biology|` +
    String.raw`health)\b`,
);

function rule(
  id: string,
  category: ContentCategory,
  weight: number,
  source: string,
  triggers: string,
): ContentRule {
  const [words] = registerGroups([triggers.split(" ")]);
  return { id, category, weight, re: new RegExp(source), triggers: words ?? [] };
}

/** Every content rule, compiled once at module load. */
export const CONTENT_RULES: readonly ContentRule[] = [
  rule(
    "harm_person_howto",
    "violence",
    0.75,
    `\\b(?:${ASKS}|${INTENT})\\s+(?:\\w+\\s+){0,2}?(?:${HARM_VERBS})\\s+(?:my\\s+|a\\s+|the\\s+|` +
    `an\\s+|` +
      `some\\s+|this\\s+|that\\s+|our\\s+|his\\s+|their\\s+)?(?:\\w+\\s+)?(?:${PERSON})\\b`,
    "kill murder stab shoot strangle suffocate poison kidnap abduct torture assassinate beat " +
    "maim " +
      "hurt attack behead execute drown run burn dismember rape",
  ),
  rule(
    "threat",
    "violence",
    0.8,
    `\\bi(?:'m| am|'ll| will| am going to|'m going to| want to| wanna| gonna)\\s+(?:\\w+\\s+)?` +
      `(?:kill|murder|shoot|stab|strangle|hurt)\\s+(?:you|him|her|them|everyone|everybody|all of ` +
      `you|my\\s+\\w+)\\b`,
    "kill murder shoot stab strangle hurt",
  ),
  rule(
    "dispose_body",
    "violence",
    0.65,
    `\\b(?:hide|dispose of|get rid of|dissolve|bury)\\s+(?:a|the)\\s+(?:dead\\s+)?(?:body|` +
    `corpse)\\b`,
    "body corpse",
  ),
  rule(
    "attack_place",
    "violence",
    0.7,
    `\\b(?:shoot up|bomb|attack|blow up)\\s+(?:a|the|my|our)\\s+(?:school|church|mosque|` +
    `synagogue|` +
      `temple|mall|office|concert|stadium|hospital|subway|train station|airport)\\b|` +
      `\\bplan(?:ning)?\\s+` +
      `(?:a\\s+)?(?:mass shooting|school shooting|terrorist attack|massacre)\\b`,
    "shoot bomb attack blow plan planning",
  ),
  rule(
    "violence_mention",
    "violence",
    0.2,
    `\\b(?:mass shooting|school shooting|massacre|genocide|terrorist attack|beheading)\\b`,
    "shooting massacre genocide terrorist beheading",
  ),

  rule(
    "self_harm_howto",
    "self_harm",
    0.8,
    `\\b(?:${ASKS}|${INTENT}|should i)\\s+(?:\\w+\\s+){0,2}?(?:kill myself|end my (?:own )?life|` +
      `commit suicide|take my (?:own )?life|hurt myself|harm myself|cut myself|hang myself|` +
      `overdose|die painlessly|die without pain)\\b|\\bpainless (?:way|method)s? to die\\b`,
    "myself suicide life overdose die",
  ),
  rule(
    "self_harm_method",
    "self_harm",
    0.7,
    `\\b(?:suicide|self harm|selfharm)\\s+(?:methods?|note|plan|instructions|tips)\\b|\\bhow ` +
    `many\\s+` +
      `(?:\\w+\\s+){0,2}(?:pills|tablets)\\s+(?:\\w+\\s+){0,4}?(?:to die|to kill (?:me|myself)|` +
      `lethal|overdose)\\b`,
    "suicide harm selfharm pills tablets",
  ),
  rule(
    "self_harm_ideation",
    "self_harm",
    0.65,
    `\\bi (?:want|wanna|plan|am going|'m going) to die\\b|\\bi don't want to (?:live|be ` +
    `alive)\\b|` +
      `\\bno reason to (?:live|go on)\\b|\\b(?:i'd|i would) be better off dead\\b|\\bwant to end ` +
      `it all\\b`,
    "die live alive dead end",
  ),

  rule(
    "minor_sexual",
    "sexual_minors",
    0.55,
    `\\b(?:${MINOR})\\b[^.\\n]{0,60}?\\b(?:${SEXUAL})\\b|` +
    `\\b(?:${SEXUAL})\\b[^.\\n]{0,60}?\\b(?:${MINOR})\\b`,
    SEXUAL_WORDS,
  ),
  rule(
    "minor_sexual_request",
    "sexual_minors",
    0.8,
    `\\b(?:write|describe|generate|create|show|send|draw|depict|roleplay|role play|story|image|` +
      `images|picture|pictures|photo|photos|pics|video|videos|fantasy|scene)\\b[^\\n]{0,80}?` +
      `(?:\\b(?:${MINOR})\\b[^.\\n]{0,60}?\\b(?:${SEXUAL})\\b|\\b(?:${SEXUAL})\\b[^.\\n]{0,60}?` +
      `\\b(?:${MINOR})\\b)`,
    SEXUAL_WORDS,
  ),

  rule(
    "dehumanize_group",
    "hate",
    0.75,
    `\\b(?:${GROUP})\\s+(?:are|is)\\s+(?:all\\s+|just\\s+|nothing ` +
    `but\\s+)?(?:\\w+\\s+)?(?:vermin|` +
      `animals|subhuman|parasites|cockroaches|rats|filth|scum|inferior|a disease|a plague|` +
      `savages|` +
      `apes|monkeys|evil|trash|garbage|pigs|dogs)\\b`,
    "vermin animals subhuman parasites cockroaches rats filth scum inferior disease plague " +
      "savages apes monkeys evil trash garbage pigs dogs",
  ),
  rule(
    "eliminate_group",
    "hate",
    0.8,
    `\\b(?:kill|exterminate|eradicate|gas|get rid of|wipe out|eliminate|lynch|burn|hang)\\s+` +
      `(?:all\\s+)?(?:the\\s+|those\\s+|these\\s+)?(?:${GROUP})\\b|\\b(?:${GROUP})\\s+(?:should|` +
      `must|` +
      `deserve to|need to|ought to)\\s+(?:all\\s+)?(?:be\\s+)?(?:die|killed|exterminated|` +
      `eradicated|` +
      `gassed|wiped out|eliminated|burned|hanged|lynched|sterili[sz]ed)\\b`,
    "kill exterminate eradicate gas rid wipe eliminate lynch burn hang die killed exterminated " +
      "eradicated gassed wiped eliminated burned hanged lynched sterilized sterilised",
  ),
  rule(
    "hate_statement",
    "hate",
    0.6,
    `\\bi (?:hate|despise|loathe) (?:all\\s+)?(?:the\\s+)?(?:${GROUP})\\b|` +
    `\\b(?:${GROUP})\\s+(?:are|is)\\s+` +
      `(?:all\\s+)?(?:the\\s+)?(?:worst|a cancer|ruining (?:the|our) (?:country|race))\\b`,
    "hate despise loathe worst cancer ruining",
  ),

  rule(
    "weapon_howto",
    "weapons",
    0.85,
    `\\b(?:${ASKS}|${INTENT}|recipe for|ingredients for|materials for|parts ` +
    `for)\\s+(?:\\w+\\s+){0,3}?` +
      `(?:(?:${MAKE})\\s+)?(?:a\\s+|an\\s+|some\\s+|the\\s+|homemade\\s+|my own\\s+|home ` +
      `made\\s+)*` +
      `(?:\\w+\\s+)?(?:${WEAPON})\\b`,
    "bomb bombs pipebomb explosive explosives ied ieds improvised molotov grenade grenades " +
    "landmine " +
      "landmines napalm thermite nerve sarin vx tabun ricin anthrax botulinum bioweapon " +
      "bioweapons " +
      "biological chemical dirty nuclear ghost untraceable silencer silencers suppressor " +
      "suppressors " +
      "machine machinegun tatp rdx semtex c4 detonator detonators methamphetamine meth fentanyl " +
      "poison chlorine mustard cyanide zip zipgun weapons weapon",
  ),
  rule(
    "agent_synthesis",
    "weapons",
    0.8,
    `\\b(?:synthesi[sz]e|synthesis of|produce|extract|weaponi[sz]e|culture|aerosoli[sz]e|` +
    `enrich)\\s+` +
      `(?:\\w+\\s+){0,2}?(?:sarin|vx|tabun|ricin|anthrax|botulinum|nerve agents?|smallpox|plague|` +
      `mustard gas|chlorine gas|fentanyl|methamphetamine|meth|uranium|plutonium)\\b`,
    "sarin vx tabun ricin anthrax botulinum nerve smallpox plague mustard chlorine fentanyl " +
      "methamphetamine meth uranium plutonium",
  ),
  rule(
    "explosive_recipe",
    "weapons",
    0.5,
    `\\b(?:mix|combine|add|pack|grind|detonate|ignite)\\w*\\s+(?:\\w+\\s+){0,4}?(?:ammonium ` +
    `nitrate|` +
      `potassium (?:nitrate|chlorate|perchlorate)|acetone peroxide|hexamine|nitroglycerin|` +
      `black powder|fuel oil|anfo|tatp|blasting caps?)\\b`,
    "ammonium potassium acetone hexamine nitroglycerin black fuel anfo tatp blasting",
  ),
  rule(
    "weapon_mention",
    "weapons",
    0.2,
    `\\b(?:pipe ?bombs?|nerve agents?|bioweapons?|dirty bombs?|ghost guns?|molotov|tatp|ricin|` +
    `sarin)\\b`,
    "pipe pipebomb nerve bioweapon bioweapons dirty ghost molotov tatp ricin sarin",
  ),
];

/** True when the text reads as protective or educational about minors' safety. */
export function protectiveContext(text: string): boolean {
  return PROTECTIVE.test(text);
}
