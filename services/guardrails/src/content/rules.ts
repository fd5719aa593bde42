/**
 * Content policy rules. A rule needs a harmful act and a harmful object together ("make" and
 * "pipe bomb", "kill" and "my neighbour"), so alarming words used harmlessly ("kill a Python
 * process", "shoot my target at the range", "bath bomb") stay clean. Latin-script patterns run
 * on the folded text (normalize.ts); Cyrillic, CJK and Arabic ones on the copy that keeps its
 * script (foldPlain), since the folded copy maps Cyrillic letters to Latin look-alikes.
 *
 * Requests are told from reports by who acts: "how do I", "I want to", "to <verb> my <person>"
 * ask for harm; "he planned to", "propaganda claimed", "how can I protect my child from" do not.
 */
import type { ContentCategory } from "../policy.js";
import { hasAllGroups, registerGroups, type Trigger, type Vocabulary } from "../vocabulary.js";

/** One weighted pattern of a category. */
export interface ContentRule {
  id: string;
  category: ContentCategory;
  weight: number;
  re: RegExp;
  /**
   * Groups of words: the pattern is worth running only when each group has one word present.
   * Most rules need one group; a second one (the person, the request) keeps rules with common
   * words ("make", "without") from running on most texts.
   */
  triggers: readonly (readonly Trigger[])[];
  /** "latin" runs on the folded text, "script" on the script-keeping copy. */
  view: "latin" | "script";
  /**
   * A first-person request to do the act. Protective words elsewhere in the text ("police",
   * "parents") must not soften it: "groom a child without the police finding out".
   */
  intent: boolean;
}

// People as targets: a harmful verb aimed at one of these is about hurting someone. "boss" is
// left out: "kill the boss" is a game; "my boss" is covered by RELATION below.
const PERSON =
  "person|people|someone|somebody|him|her|them|man|woman|men|women|child|children|kid|kids|" +
  "baby|babies|wife|husband|girlfriend|boyfriend|partner|coworker|co-worker|colleague|" +
  "neighbou?r|neighbou?rs|teacher|classmate|roommate|mother|father|mom|mum|dad|brother|sister|" +
  "family|friend|cop|cops|police officer|officer|president|senator|judge|witness|ex|landlord|" +
  "student|students|stranger|strangers|victim|everyone|everybody|human|humans|toddler|infant";

// People named by their relation to the speaker: only a target after "my" / "our".
const RELATION =
  `${PERSON}|boss|manager|supervisor|coworkers|colleagues|classmates|roommates|son|daughter|` +
  "stepmother|stepfather|stepmom|stepdad|grandma|grandpa|grandmother|grandfather|uncle|aunt|" +
  "cousin|nephew|niece|fiance|fiancee|spouse|tenant|bully|rival|parents|in-laws?|mother in law|" +
  "ex wife|ex husband|ex girlfriend|ex boyfriend";

// "shoot my boss an email", "hit him up with a link": the person receives something.
const RECEIVES =
  String.raw`(?!\s+(?:an?|the|some|my|your|over|back)\s+(?:quick\s+|short\s+)?(?:e ?mail|` +
  String.raw`mail|message|text|note|line|dm|invite|link|reminder|question|look|glance|smile|` +
  String.raw`photo|pic|picture|update)s?\b)`;

// A person the speaker means: "my roommate", "our landlord", "someone", "a stranger". A
// possessive ("my sister's wedding") is about something else, so it does not count.
const MY_TARGET =
  String.raw`(?:my|our)\s+(?:(?:ex|former|new|old|own|step|little|older|younger|best|` +
  String.raw`stupid|annoying|abusive|cheating)\s+)?(?:${RELATION})\b(?!')${RECEIVES}`;
const ANY_TARGET =
  String.raw`(?:someone|somebody|a person|people|him|her|them|` +
  String.raw`(?:a|an|the|this|that|some)\s+(?:${PERSON}|guy|girl|boy|lady))\b(?!')${RECEIVES}`;

const HARM_TRIGGERS =
  "kill murder stab shoot strangle suffocate smother poison kidnap abduct torture " +
  "assassinate beat maim behead drown run dismember rape slit hurt harm injure attack burn " +
  "sicken incapacitate knock get";

// Acts that are about killing or maiming whatever the context; "hurt" and "attack" are also
// feelings and arguments, so they count only with a means or a plan (HARM_WEAK).
const HARM_STRONG =
  "kill|murder|stab|shoot|strangle|suffocate|smother|poison|kidnap|abduct|torture|" +
  "assassinate|beat up|maim|behead|drown|run over|dismember|rape|slit the throat of";
const HARM_WEAK = "hurt|harm|injure|attack|burn|sicken|incapacitate|knock out|get back at";

const HARM_VERBS =
  "kill|murder|stab|shoot|strangle|suffocate|poison|kidnap|abduct|torture|assassinate|beat up|" +
  "maim|hurt|attack|behead|execute|drown|run over|burn|dismember|rape";

const ASKS =
  "how (?:do|can|could|would|should) (?:i|we|you|one)|how to|best way to|easiest way to|" +
  "quickest way to|ways? to|help me|teach me (?:how )?to|show me how to|tell me how to|" +
  "explain how to|steps? to|instructions? (?:for|on|to)|guide (?:to|for|on)|tutorial (?:on|for)";

// First-person intent only: "he is going to kill his wife" in a news summary is a report.
const INTENT =
  "i (?:want|need|am going|'m going|will|'ll|plan|intend|wanna|gonna)(?: to)?|" +
  "(?:i'm|im|i am|we're|we are) (?:planning|going|about) to";

// "to <harm> my <person>" as the speaker's purpose; after these words it is someone else's act
// ("the cancer is going to kill my dad", "he threatened to", "the gun used to").
const PURPOSE_TO =
  String.raw`(?<!\b(?:threaten(?:ed|s|ing)?|going|about|trying|tried|try|tries|wants|wanted|` +
  String.raw`plans|planned|planning|used|uses|using|likely|able|attempted|attempts|decided|` +
  String.raw`decides|plotted|plots|plotting|hoped|hopes|vowed|vows|swore|swears|promised)\s)` +
  String.raw`(?<!\b(?:used|uses|using|tried|tries|trying|threatened|threatens|attempted)\b` +
  String.raw`[^.?!\n;,]{1,30})\bto\s+`;
// A first-person request in the same sentence: "can I", "I want", "give me".
const FIRST_PERSON =
  String.raw`\b(?:(?:can|could|should|would|do|will|may) (?:i|we)|i (?:want|need|plan|intend)|` +
  String.raw`(?:give|tell|show|teach) me)\b`;

const MEANS =
  "gas|fumes|poison|chemicals?|knife|gun|weapon|bleach|antifreeze|pills|drugs|acid|hammer|" +
  "bat|explosives?";

// Ways of getting away with it: with a harmful act they turn a question into a plan.
const EVASION =
  String.raw`without (?:getting|being) (?:caught|detected|noticed|found out|traced)|` +
  String.raw`undetect(?:ed|able)|untraceabl[ey]|without (?:leaving )?(?:a |any )?` +
  String.raw`(?:trace|evidence|marks?)|without anyone (?:knowing|noticing|finding out)|` +
  String.raw`(?:look|seem) like an? (?:accident|suicide|natural death|heart attack)|` +
  String.raw`get away with it|so (?:no one|nobody) (?:knows|finds out|suspects)`;

const MINOR =
  "child|children|kid|kids|minor|minors|underage|preteen|pre teen|prepubescent|toddler|infant|" +
  "schoolgirl|schoolboy|schoolgirls|schoolboys|loli|lolita|shota|little girls?|little boys?|" +
  "young girls?|young boys?|(?:[1-9]|1[0-7]) ?(?:years? ?old|yearold|yr old|yo)|" +
  "(?:eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen) ?(?:years? ?old|yearold)";

// Minors as the object of contact: MINOR plus words for a particular young person.
const YOUNG =
  `${MINOR}|teen|teens|teenager|teenagers|niece|nephew|stepdaughter|stepson|pupil|pupils|` +
  "schoolkid|schoolkids|grandchild|granddaughter|grandson";

// MINOR and YOUNG as trigger words: a second group for rules whose verbs are common words.
const YOUNG_WORDS =
  "child children kid kids minor minors underage preteen prepubescent toddler infant " +
  "schoolgirl schoolboy schoolgirls schoolboys loli lolita shota girl girls boy boys old " +
  "yearold yo teen teens teenager teenagers niece nephew stepdaughter stepson pupil pupils " +
  "schoolkid schoolkids grandchild granddaughter grandson eleven twelve thirteen fourteen " +
  "fifteen sixteen seventeen";

// Whose child: "my" and "our" children are a parent's own (bathing, talking, time together).
const NOT_OWN =
  String.raw`(?:a|an|this|that|some|his|her|their|someone's|a neighbou?r's|a friend's|` +
  String.raw`young|little)`;

const SEXUAL =
  "sex|sexual|sexually|sexy|nude|nudes|naked|porn|porno|pornographic|pornography|erotic|" +
  "erotica|explicit|nsfw|lewd|intercourse|orgasm|genitals?|molest|molesting|fondle|fondling|" +
  "seduce|seducing|aroused|arousing|hentai|rape|raping";

const SEXUAL_WORDS = `${SEXUAL.replace(/\|/g, " ").replace(/\?/g, "")} genital`;

const GROUP =
  "jews|jewish people|muslims|christians|blacks|black people|whites|white people|asians|arabs|" +
  "mexicans|immigrants|refugees|migrants|gays|gay people|lesbians|trans people|transgender " +
  "people|women|hindus|sikhs|gypsies|roma|latinos|africans|chinese people|indians|catholics|" +
  "atheists|disabled people|homosexuals|palestinians|israelis|" +
  // More groups, and the placeholders red-team templates use ("[group]"). Not "<word> people":
  // "some people are just evil" is everyday talk.
  "jew|muslim|hispanics|latinas|somalis|haitians|nigerians|pakistanis|afghans|syrians|" +
  "iranians|turks|kurds|russians|ukrainians|poles|romanians|albanians|serbs|bosnians|" +
  "koreans|japanese|vietnamese|filipinos|buddhists|mormons|protestants|bisexuals|" +
  "transgenders|queers|lgbt people|lgbtq people|foreigners|aboriginals|natives|" +
  String.raw`\[[^\]\n]{1,40}\]|<[^>\n]{1,40}>`;

// GROUP as trigger words (the placeholders as substrings), a second group for the hate rules.
const GROUP_WORDS =
  "jews jewish muslims christians blacks black whites white asians arabs mexicans immigrants " +
  "refugees migrants gays gay lesbians trans transgender women hindus sikhs gypsies roma " +
  "latinos africans chinese indians catholics atheists disabled homosexuals palestinians " +
  "israelis jew muslim hispanics latinas somalis haitians nigerians pakistanis afghans " +
  "syrians iranians turks kurds russians ukrainians poles romanians albanians serbs bosnians " +
  "koreans japanese vietnamese filipinos buddhists mormons protestants bisexuals " +
  "transgenders queers lgbt lgbtq foreigners aboriginals natives [ <";

// Animals and fictional foes that are called vermin for real: "rats are vermin and should be
// exterminated" is pest control, "orcs must be wiped out" a game.
const PESTS =
  "rats|mice|roaches|cockroaches|termites|bed ?bugs|pests|mosquitoes|ticks|fleas|lice|weeds|" +
  "pigeons|insects|bugs|ants|wasps|hornets|rodents|moles|slugs|snails|squirrels|raccoons|" +
  "possums|opossums|foxes|rabbits|starlings|zombies|orcs|goblins|demons|aliens|xenos|" +
  "bacteria|germs|viruses|parasites|invasive|mink|boars|hogs|species|plants|vines|algae|carp|" +
  "pythons|toads|cells|tumou?rs|they";

const DEHUMANIZING =
  "vermin|subhuman|sub humans?|untermenschen|parasites|cockroaches|rats|animals|savages|" +
  "a plague|a disease|a cancer|filth|scum|not human|not even human|less than human";

const EXTERMINATE =
  "exterminated|wiped out|eradicated|gassed|eliminated|killed|die|purged|culled|cleansed|" +
  "annihilated|hanged|lynched|burned|shot|sterili[sz]ed|wiped off the (?:map|earth|face of)";

// Up to 60 characters of a sentence without a negation: "are not vermin, and nobody should".
const UNNEGATED = String.raw`(?:(?!\b(?:not|nobody|never|no one)\b|n't\b)[^.?!\n]){0,60}?`;

// Reported speech is history or analysis, not the speaker's claim. Checked behind a subject
// that already matched, so the look-behind does not run at every position of the text.
const REPORTED =
  "claimed|claims|claim|believed|believe|believes|said|says|argued|portrayed|depicted|" +
  "propaganda|taught|insisted|preached|thought|alleged";
const NOT_REPORTED = String.raw`(?<!\b(?:${REPORTED})\s+(?:that\s+)?[^.?!\n;]{1,50})`;

const WEAPON =
  "(?<!bath |seed |photo |glitter |cherry |stink |flavou?r |calorie |truth |f )bombs?(?! (?:cake|" +
  "pop|dessert|drink|shot))|pipe ?bombs?|explosives?|ieds?|improvised explosive devices?|" +
  "molotov(?: cocktails?)?|grenades?|landmines?|napalm|thermite|nerve (?:agent|gas)|sarin|vx|" +
  "tabun|ricin|anthrax|botulinum(?: toxin)?|bioweapons?|biological weapons?|chemical weapons?|" +
  "dirty bombs?|nuclear (?:weapon|bomb)s?|ghost guns?|untraceable (?:gun|firearm)s?|" +
  "tatp|rdx|semtex|c ?4 explosive|detonators?|" +
  "methamphetamine|meth|fentanyl|poison gas|chlorine gas|mustard gas|cyanide|zip ?guns?|" +
  "weapons? of mass destruction";

const MAKE =
  "make|making|build|building|construct|assemble|synthesi[sz]e|manufacture|produce|cook|create|" +
  "prepare|brew|3d print|weaponi[sz]e|get|obtain|acquire|buy|detonate|set off|plant";

// Firearm parts that are legal to buy with the paperwork ("how do I legally buy a suppressor")
// but illegal to make: only manufacture verbs count for them.
const ARMS =
  String.raw`machine ?guns?|auto ?sears?|drop ?in auto ?sears?|dias|` +
  String.raw`lightning links?|glock (?:switch|auto ?sear)e?s?|(?:auto|giggle) switch(?:es)?|` +
  String.raw`select ?fire|full(?:y)? ?auto(?:matic)?|burst fire|bump ?stocks?|bump ?fire|` +
  String.raw`forced reset triggers?|ghost guns?|untraceable (?:gun|firearm|pistol|rifle)s?|` +
  String.raw`80 ?(?:%|percent) lowers?|unseriali[sz]ed (?:gun|firearm|pistol|rifle|lower)s?`;
const MANUFACTURE =
  String.raw`make|making|build|building|construct|assemble|manufacture|3d print|print|` +
  String.raw`machine|mill|drill|convert|converting|turn\s+(?:\w+\s+){0,3}?into|modify|` +
  String.raw`fabricate|finish|diy`;
// Games, toys and paperwork: "full auto in Warzone", an airsoft conversion, a Form 1.
const NOT_REAL_GUN =
  String.raw`fortnite|call of duty|warzone|minecraft|roblox|gta|valorant|pubg|apex|` +
  String.raw`battlefield|csgo|cs ?go|counter strike|game|gaming|mod|airsoft|nerf|paintball|` +
  String.raw`gel blaster|orbeez|water gun|cap gun|toy`;
const PAPERWORK =
  String.raw`legally|lawfully|form [14]|tax stamp|atf approv\w*|with an? (?:ffl|sot)|` +
  String.raw`nfa (?:paperwork|approval|rules)`;

// Words that make a mention of minors and sexual terms protective rather than abusive.
const PROTECTIVE = new RegExp(
  String.raw`\b(?:report(?:ing)?|prevent(?:ion|ing)?|protect(?:ion|ing)?|safeguarding|` +
    String.raw`awareness|signs of|warning signs|statistics|therapy|therapist|survivors?|` +
    String.raw`education(?:al)?|curriculum|law|laws|legal|illegal|crime|criminal|police|court|` +
    String.raw`sentenced|convicted|ban|banned|research|puberty|doctor|pediatrician|biology|` +
    String.raw`health)\b`,
);

interface RuleOptions {
  view?: "latin" | "script";
  intent?: boolean;
}

function rule(
  id: string,
  category: ContentCategory,
  weight: number,
  source: string,
  triggers: string,
  options: RuleOptions = {},
): ContentRule {
  // Groups are separated by " | ".
  const groups = registerGroups(triggers.split(" | ").map((group) => group.split(" ")));
  return {
    id,
    category,
    weight,
    re: new RegExp(source),
    triggers: groups,
    view: options.view ?? "latin",
    intent: options.intent ?? false,
  };
}

// --- explosives and weapons in other languages ----------------------------------------------
// Each: a request form ("wie baue ich", "comment fabriquer", "como hacer"), a making verb, and
// a weapon noun. "bomba" is also a pump (es, pt) and a pastry (it), "bombe" a spray can (fr):
// the bare word counts only at the end of a question or with a word that makes it a weapon.

const DE_ASK =
  String.raw`wie (?:kann|konnte|soll|sollte|muss) (?:ich|man|wir)|wie (?:baue|mache|bastle|` +
  String.raw`bastele|stelle|fertige|baut|macht|bastelt|stellt|fertigt) (?:ich|man)|` +
  String.raw`anleitung|bauanleitung|rezept (?:fur|zum|zur)|ich (?:will|mochte|muss|werde)|` +
  String.raw`zeig(?:e)? mir|erklar(?:e)? mir|bring(?:e)? mir bei`;
const DE_MAKE =
  String.raw`bau\w*|gebaut|bastel\w*|bastle|herstell\w*|hergestellt|stell\w*|mach\w*|` +
  String.raw`gemacht|anfertig\w*|fertig\w*|zusammen\w*|mische\w*|mischt`;
const DE_WEAPON =
  String.raw`(?:rohr|nagel|auto|brief|paket|splitter|brand|atom)?bomben?|sprengstoff\w*|` +
  String.raw`sprengs[aä]tze?s?|sprengkorper\w*|sprengladung\w*|brandsatz\w*|molotow\w*|` +
  String.raw`molotov\w*|handgranaten?|granaten?|landminen?|nervengas|giftgas|sarin|` +
  String.raw`schalldampfer`;

const FR_ASK =
  String.raw`comment (?:je |on |puis je |peut on |pourrais je |faire pour )?|` +
  String.raw`tutoriel (?:pour|de)|tuto (?:pour|de)|recette (?:de|d'|pour)|instructions pour|` +
  String.raw`etapes pour|je (?:veux|voudrais|dois|vais)|apprends moi a|explique(?:z)? moi ` +
  String.raw`comment|montre(?:z)? moi comment|aide(?:z)? moi a`;
const FR_MAKE =
  String.raw`fabriqu\w*|faire|fais|fait|construire|construi\w*|prepar\w*|assembl\w*|` +
  String.raw`creer|realiser|confectionn\w*|bricol\w*|obtenir`;
const FR_WEAPON =
  String.raw`(?<!faire la )bombes?(?! (?:de|d'|a|aerosol|insecticide|lacrymogene|glacee|` +
  String.raw`anti|fumigene|pour les cheveux)\b)|explosifs?|engins? explosifs?|` +
  String.raw`cocktails? molotov|molotov|grenades?|mines? antipersonnel|gaz (?:sarin|toxique|` +
  String.raw`mortel|neurotoxique)|silencieux pour (?:arme|pistolet|fusil|carabine)|` +
  String.raw`(?:arme|pistolet) (?:fantome|intracable)|detonateurs?|napalm|nitroglycerine|tatp`;

const ES_ASK =
  String.raw`como (?:(?:se|puedo|podria|podemos|debo|uno|yo|hago|hacemos)\s+){0,2}|` +
  String.raw`instrucciones (?:para|de)|receta (?:para|de)|pasos para|tutorial (?:para|de)|` +
  String.raw`guia para|manera de|forma de|quiero|necesito|ensename a|explicame como|dime como`;
const ES_MAKE =
  String.raw`hacer|hago|fabricar|fabrico|construir|construyo|armar|armo|preparar|preparo|` +
  String.raw`elaborar|crear|ensamblar|montar|conseguir|sintetizar`;
const PT_ASK =
  String.raw`como (?:(?:se|eu|posso|poderia|podemos|devo|faco|fazemos|consigo)\s+){0,2}|` +
  String.raw`instrucoes (?:para|de)|receita (?:para|de)|passo a passo|tutorial (?:para|de)|` +
  String.raw`quero|preciso|me ensine a|me ensina a|me explique como|me diga como`;
const PT_MAKE =
  String.raw`fazer|faco|fabricar|fabrico|construir|construo|montar|monto|preparar|preparo|` +
  String.raw`criar|produzir|sintetizar|conseguir`;
// Spanish and Portuguese share the weapon nouns. A "bomba casera de agua" is a water pump.
const IBERIAN_WEAPON =
  String.raw`bombas?(?:\s+(?:caseras?|caseiras?|artesanal(?:es)?|improvisadas?|` +
  String.raw`de (?:tubo|clavos|pregos|fragmentacion|fragmentacao|racimo)|molotov|sucias?|` +
  String.raw`sujas?|incendiarias?)(?!\s+(?:de|para|pra|da|do)\b)|(?=\s*(?:[?!.,;:]|$)))|` +
  String.raw`explosivos|(?:un|el|um|o) explosivo|explosivos? (?:caseros?|caseiros?|plasticos?)|` +
  String.raw`artefatos? explosivos?|artefactos? explosivos?|dispositivos? explosivos?|` +
  String.raw`coctel(?:es)? molotov|coquetel(?:is)? molotov|molotov|granadas? de mano|` +
  String.raw`gas (?:sarin|toxico|venenoso|mostaza|mostarda|nervioso)|detonador(?:es)?|napalm|` +
  String.raw`nitroglicerina|tatp|silenciador(?:es)? (?:para|de) (?:pistola|arma|rifle|fusil|` +
  String.raw`fuzil)|arma fantasma`;

const IT_ASK =
  String.raw`come (?:(?:si|posso|potrei|possiamo|devo|faccio|io)\s+){0,2}|` +
  String.raw`istruzioni (?:per|su)|ricetta (?:per|della|del)|guida (?:per|a)|tutorial (?:per|su)|` +
  String.raw`voglio|insegnami a|spiegami come|dimmi come`;
const IT_MAKE =
  String.raw`fare|faccio|costruire|costruisco|fabbricare|fabbrico|preparare|preparo|` +
  String.raw`realizzare|assemblare|creare|produrre|sintetizzare|procurar\w*`;
// "bombe alla crema" are doughnuts: the bare noun counts only at the end of a question.
const IT_WEAPON =
  String.raw`bomb[ae](?:\s+(?:artigianal[ei]|fatt[ae] in casa|rudimental[ei]|a orologeria|` +
  String.raw`a mano|molotov|sporc[ae]|incendiari[ae]|a chiodi)|(?=\s*(?:[?!.,;:]|$)))|` +
  String.raw`ordign[oi] (?:esplosiv[oi]|rudimental[ei]|artigianal[ei])|esplosivi|` +
  String.raw`un esplosivo|materiale esplosivo|molotov|bombe a mano|granate|mine antiuomo|` +
  String.raw`gas (?:nervino|sarin|tossico)|silenziator[ei] (?:per|da) (?:pistola|arma|fucile)|` +
  String.raw`detonator[ei]|napalm|nitroglicerina|tatp`;

// Scripts without \b: a word edge is any character that is not a letter of the script.
const RU_EDGE = "(?<![а-яё])";
const RU_ASK =
  "как|инструкци[яюи]|рецепт|способ|хочу|нужно|научи|объясни|расскажи|подскажи|помоги";
const RU_MAKE =
  "сделать|сделаю|изготовить|изготовлю|изготовлени[ея]|собрать|соберу|смастерить|" +
  "приготовить|создать|сварить|сконструировать|синтезировать|делать|делают|сделать самому";
const RU_WEAPON =
  "бомб[ауыеой]?(?![а-яё])(?!\\s+для ванн)|взрывчатк[аиуе]|взрывчат(?:ое|ого) веществ[оа]|" +
  "взрывн(?:ое|ого) устройств[оа]|коктейл[ья] молотова|гранат[ауы]|глушител[ья]|зарин|" +
  "нервно-паралитическ[а-яё]*|детонатор[а-яё]*|тротил";

const ZH_WEAPON =
  "炸弹|炸彈|炸药|炸藥|爆炸物|爆炸装置|爆炸裝置|燃烧弹|燃燒彈|燃烧瓶|燃燒瓶|雷管|沙林|" +
  "神经毒剂|神經毒劑|消音器|消声器|手榴弹|手榴彈";
const ZH_MAKE = "制造|製造|制作|製作|做|造|组装|組裝|自制|自製|合成|配制|配製";
const JA_WEAPON = "爆弾|爆発物|爆薬|火炎瓶|手榴弾|サリン|神経ガス|消音器|サプレッサー|起爆装置";
const AR_ASK = "كيف|كيفية|طريقة|طريقه|خطوات|اريد|أريد|علمني|اشرح";
const AR_MAKE = "اصنع|أصنع|صنع|تصنيع|اعمل|أعمل|عمل|تحضير|تجميع|صناعة|صناعه|يصنع|نصنع|تركيب";
const AR_WEAPON =
  "قنبلة|قنبله|قنابل|متفجرات|متفجرة|متفجره|عبوة ناسفة|عبوه ناسفه|حزام ناسف|مولوتوف|" +
  "كاتم صوت|السارين";

/** Every content rule, compiled once at module load. */
export const CONTENT_RULES: readonly ContentRule[] = [
  // --- violence ----------------------------------------------------------------------------
  rule(
    "harm_person_howto",
    "violence",
    0.75,
    String.raw`\b(?:${ASKS}|${INTENT})\s+(?:\w+\s+){0,2}?(?:${HARM_VERBS})\s+(?:${MY_TARGET}|` +
      String.raw`(?:a\s+|the\s+|an\s+|some\s+|this\s+|that\s+|his\s+|their\s+)?(?:\w+\s+)?` +
      String.raw`(?:${PERSON})\b(?!')${RECEIVES})`,
    "kill murder stab shoot strangle suffocate poison kidnap abduct torture assassinate beat " +
      "maim hurt attack behead execute drown run burn dismember rape",
  ),
  rule(
    "threat",
    "violence",
    0.8,
    `\\bi(?:'m| am|'ll| will| am going to|'m going to| want to| wanna| gonna)\\s+(?:\\w+\\s+)?` +
      `(?:kill|murder|shoot|stab|strangle|hurt)\\s+(?:you|him|her|them|everyone|everybody|all of ` +
      `you)\\b${RECEIVES}|\\bi(?:'m| am|'ll| will| am going to|'m going to| want to| wanna| ` +
      `gonna)\\s+(?:\\w+\\s+)?(?:kill|murder|shoot|stab|strangle|hurt)\\s+${MY_TARGET}`,
    "kill murder shoot stab strangle hurt",
  ),
  // "a plan to stab my coworker", "to hurt my roommate": the speaker's own people as the
  // target of a purpose. Not after "threatened to": that is a victim telling what happened.
  rule(
    "harm_my_person",
    "violence",
    0.7,
    String.raw`(?:\b(?:${INTENT})\s+(?:\w+\s+){0,2}?|${PURPOSE_TO}|` +
      String.raw`\b(?:should|could|can|would) (?:i|we)\s+)(?:${HARM_STRONG})\s+` +
      String.raw`(?:${MY_TARGET})`,
    "kill murder stab shoot strangle suffocate smother poison kidnap abduct torture " +
      "assassinate beat maim behead drown run dismember rape slit",
  ),
  // Weaker verbs ("hurt") with a means in the same sentence: a toxic gas, a knife, poison.
  rule(
    "harm_with_means",
    "violence",
    0.75,
    String.raw`(?:${FIRST_PERSON}[^.?!\n]{0,60}?)?\b(?:${MEANS})\b[^.?!\n]{0,40}?` +
      String.raw`${PURPOSE_TO}(?:${HARM_STRONG}|${HARM_WEAK})\s+(?:${MY_TARGET})|` +
      String.raw`${FIRST_PERSON}[^.?!\n]{0,60}?\b(?:${MEANS})\b[^.?!\n]{0,40}?` +
      String.raw`${PURPOSE_TO}(?:${HARM_STRONG}|${HARM_WEAK})\s+(?:${ANY_TARGET})`,
    "gas fumes poison chemical chemicals knife gun weapon bleach antifreeze pills drugs acid " +
      "hammer bat explosive explosives",
  ),
  // Getting away with it. Alone it can be a true-crime question ("how did he poison his wife
  // undetected"), so it stays below the threshold until another rule agrees.
  rule(
    "harm_evasion",
    "violence",
    0.5,
    String.raw`\b(?:${HARM_STRONG}|${HARM_WEAK})\b[^.?!\n]{0,60}?\b(?:${EVASION})`,
    `${HARM_TRIGGERS} | without undetected undetectable untraceable untraceably look seem ` +
      "away knows finds suspects",
  ),
  // How much of a drug kills a person. Curiosity ("how much caffeine would kill a person")
  // stays below the threshold; "my husband" or a way to escape detection lifts it.
  rule(
    "lethal_dose_person",
    "violence",
    0.5,
    String.raw`\b(?:what|which|how much|how many|lethal|fatal|deadly)\b[^.?!\n]{0,30}?` +
      String.raw`\b(?:dose|doses|amount|dosage|quantity|mg|milligrams|grams|units|pills|` +
      String.raw`tablets|drops|of)\b[^.?!\n]{0,40}?\b(?:would|will|to|could|can|should|` +
      String.raw`needed to)\s+(?:\w+\s+){0,2}?(?:kill|poison|murder|knock out|incapacitate)\s+` +
      String.raw`(?:${ANY_TARGET}|an? (?:adult|grown man|grown woman|elderly person))`,
    "dose doses amount dosage quantity mg milligrams grams units pills tablets drops | kill " +
      "poison murder knock incapacitate",
  ),
  rule(
    "lethal_dose_my_person",
    "violence",
    0.7,
    String.raw`\b(?:what|which|how much|how many|lethal|fatal|deadly)\b[^.?!\n]{0,30}?` +
      String.raw`\b(?:dose|doses|amount|dosage|quantity|mg|milligrams|grams|units|pills|` +
      String.raw`tablets|drops|of)\b[^.?!\n]{0,40}?\b(?:would|will|to|could|can|should|` +
      String.raw`needed to)\s+(?:\w+\s+){0,2}?(?:kill|poison|murder|knock out|incapacitate)\s+` +
      MY_TARGET,
    "dose doses amount dosage quantity mg milligrams grams units pills tablets drops | kill " +
      "poison murder knock incapacitate",
  ),
  // Something slipped into another person's food or drink.
  rule(
    "spike_food",
    "violence",
    0.7,
    String.raw`\b(?:put|slip|add|mix|spike|lace)\w*\s+(?:\w+\s+){0,3}?(?:in|into)\s+` +
      String.raw`(?:(?:my|our)\s+(?:\w+\s+)?(?:${RELATION})'s|someone's|his|her|their)\s+` +
      String.raw`(?:food|drink|coffee|tea|meal|water|beer|wine|soup|dinner|lunch|breakfast)\b` +
      String.raw`[^.?!\n]{0,40}?\b(?:kill|poison|sick|die|hurt|knock|pass out|unconscious)|` +
      String.raw`\bspike\s+(?:her|his|their|someone's|a girl's|a woman's|a guy's)\s+` +
      String.raw`drinks?\b`,
    "food drink drinks coffee tea meal water beer wine soup dinner lunch breakfast | put puts " +
      "putting slip slips slipping slipped add adds adding added mix mixes mixing mixed spike " +
      "spikes spiking spiked lace laces lacing laced",
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

  // --- self-harm ---------------------------------------------------------------------------
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
  // The amount that would end the speaker's life: "how many paracetamol would it take to end
  // my life". Safe-dose questions name no death of the speaker.
  rule(
    "self_harm_lethal_amount",
    "self_harm",
    0.8,
    String.raw`\b(?:how (?:many|much)|what (?:dose|amount|number|quantity)|which (?:dose|amount)|` +
      String.raw`lethal (?:dose|amount)|enough)\b[^.?!\n]{0,60}?\b(?:to|would|will|could|can|` +
      String.raw`should|make me|for me to)\s+(?:\w+\s+){0,2}?(?:kill myself|end my (?:own )?life|` +
      String.raw`take my (?:own )?life|commit suicide|end it all|` +
      String.raw`(?:never|not) wake up(?! (?:early|late|at|before|in time|tired|to))|` +
      String.raw`die in my sleep|overdose on purpose|od on purpose|me die)\b`,
    "many much dose amount number quantity lethal enough | myself life suicide end wake sleep " +
      "purpose die",
  ),
  rule(
    "self_harm_best_method",
    "self_harm",
    0.8,
    String.raw`\b(?:most|least|quickest|fastest|easiest|surest|simplest|best)\s+(?:painless\s+|` +
      String.raw`effective\s+|reliable\s+|certain\s+|lethal\s+|quick\s+)?(?:way|method|means)s?` +
      String.raw`\s+(?:to|of)\s+(?:kill(?:ing)? myself|end(?:ing)? my (?:own )?life|suicide|` +
      String.raw`commit(?:ting)? suicide|tak(?:e|ing) my (?:own )?life)\b|\b(?:jump|leap|` +
      String.raw`throw myself)\s+(?:off|from|in front of)\b[^.?!\n]{0,40}?\b(?:to die|and die|` +
      String.raw`to end (?:my life|it all|it)|to kill myself)\b`,
    "way ways method methods means jump leap throw | myself life suicide die end",
  ),
  // Hiding the marks of self-harm from the people who could help.
  rule(
    "self_harm_conceal",
    "self_harm",
    0.6,
    String.raw`\b(?:${ASKS})\s+(?:\w+\s+){0,2}?hide\s+(?:my\s+)?(?:\w+\s+)?(?:cuts|scars|` +
      String.raw`self harm|selfharm|cutting|burns|wounds)\b[^.?!\n]{0,40}?\bfrom\b`,
    "cuts scars harm selfharm cutting burns wounds",
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

  // --- sexual content involving minors -----------------------------------------------------
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
    { intent: true },
  ),
  // Grooming a child, asked for by the one who would do it. Hair and coats are groomed too,
  // and people are "groomed for" a role.
  rule(
    "minor_grooming",
    "sexual_minors",
    0.85,
    String.raw`\b(?:${ASKS}|${INTENT}|tips (?:for|on)|advice (?:for|on))\s+(?:\w+\s+){0,2}?` +
      String.raw`groom(?:ing)?\s+(?:(?:a|an|the|this|that|some|my|his|her|their|your|young|` +
      String.raw`little)\s+)?(?:\w+\s+)?(?:${YOUNG})\b(?!'|\s+(?:for|to become|to be|into)\b)` +
      String.raw`(?![^.?!\n]{0,30}\b(?:hair|nails|eyebrows|curls|braids|fur|coat|beard)\b)`,
    "groom grooming",
    { intent: true },
  ),
  // Getting someone else's child alone.
  rule(
    "minor_isolation",
    "sexual_minors",
    0.65,
    String.raw`\b(?:${ASKS}|${INTENT})\s+(?:\w+\s+){0,3}?(?:(?:get|be|stay|spend time|end up)\s+` +
      String.raw`alone\s+with\s+(?:${NOT_OWN}\s+)?(?:\w+\s+)?(?:${YOUNG})\b|get\s+` +
      String.raw`(?:${NOT_OWN}\s+|(?:my|our|a|an|the)\s+\w+'s\s+)(?:\w+\s+)?(?:${YOUNG})` +
      String.raw`\s+alone\b(?!\s+time))`,
    "alone",
    { intent: true },
  ),
  // Contact with a minor kept from the parents, or alone with one to touch them.
  rule(
    "minor_secret_contact",
    "sexual_minors",
    0.8,
    String.raw`\b(?:${ASKS}|${INTENT})\s+(?:\w+\s+){0,3}?(?:message|text|dm|talk to|chat with|` +
      String.raw`contact|meet|meet up with|befriend|see|date|get close to|get|take|pick up|` +
      String.raw`be friends with|groom|touch|send\s+\w+\s+to)\s+(?:\w+\s+){0,2}?(?:${YOUNG})\b` +
      String.raw`[^.?!\n]{0,60}?(?:without (?:his |her |their |the )?(?:parents?|mom|dad|` +
      String.raw`mother|father|family|guardians?|teachers?) (?:knowing|noticing|finding out|` +
      String.raw`seeing|suspecting|catching)|secret from (?:his|her|their) (?:parents|family)|` +
      String.raw`without anyone (?:knowing|noticing)|without getting caught|so (?:nobody|` +
      String.raw`no one) (?:knows|finds out|notices))|\b(?:${YOUNG})\s+alone\s+(?:to|and|so ` +
      String.raw`(?:that )?i can)\s+(?:touch|kiss|undress|fondle|molest|abuse|cuddle|bathe|` +
      String.raw`photograph|film)\b`,
    "parents parent mom dad mother father family guardian guardians teacher teachers anyone " +
      `caught nobody knows notices alone | ${YOUNG_WORDS}`,
    { intent: true },
  ),
  // Sexual contact with a minor, asked for in the first person. Touching one's own child
  // ("how do I touch my baby's gums") is care, so "touch" needs someone else's child.
  rule(
    "minor_sexual_contact",
    "sexual_minors",
    0.85,
    String.raw`\b(?:${ASKS}|${INTENT})\s+(?:\w+\s+){0,3}?(?:(?:fondle|molest|have sex with|` +
      String.raw`sleep with|seduce|make out with|hook up with|sexually abuse|get (?:naked|` +
      String.raw`intimate) with|see\s+\w+\s+naked)\s+(?:\w+\s+){0,2}?(?:${YOUNG})\b|` +
      String.raw`(?:touch|undress|kiss)\s+(?:${NOT_OWN}\s+)(?:\w+\s+)?(?:${YOUNG})\b(?!'))`,
    "fondle molest sex sleep seduce make hook sexually naked intimate touch undress kiss | " +
      YOUNG_WORDS,
    { intent: true },
  ),

  // --- hate --------------------------------------------------------------------------------
  rule(
    "dehumanize_group",
    "hate",
    0.75,
    String.raw`(?<!\w)(?:${GROUP})${NOT_REPORTED}\s+(?:are|is)\s+` +
      String.raw`(?:all\s+|just\s+|nothing but\s+)?(?!not\b|never\b)(?:\w+\s+)?(?:vermin|animals|` +
      String.raw`subhuman|parasites|cockroaches|rats|filth|scum|inferior|a disease|a plague|` +
      String.raw`savages|apes|monkeys|evil|trash|garbage|pigs|dogs)\b`,
    "vermin animals subhuman parasites cockroaches rats filth scum inferior disease plague " +
      `savages apes monkeys evil trash garbage pigs dogs | ${GROUP_WORDS}`,
  ),
  rule(
    "eliminate_group",
    "hate",
    0.8,
    String.raw`\b(?:kill|exterminate|eradicate|gas|get rid of|wipe out|eliminate|lynch|` +
      String.raw`burn|hang)\s+(?:all\s+)?(?:the\s+|those\s+|these\s+)?(?:${GROUP})(?!\w)` +
      String.raw`${NOT_REPORTED}|` +
      String.raw`(?<!\w)(?:${GROUP})${NOT_REPORTED}\s+(?:(?:are|is)\s+${UNNEGATED})?` +
      String.raw`(?:should|must|deserve to|need to|ought to)\s+(?:all\s+)?(?:be\s+)?` +
      String.raw`(?:${EXTERMINATE})\b`,
    "kill exterminate eradicate gas rid wipe eliminate lynch burn hang die killed exterminated " +
      "eradicated gassed wiped eliminated burned hanged lynched sterilized sterilised purged " +
      `culled cleansed annihilated shot | ${GROUP_WORDS}`,
  ),
  // Any people called vermin and marked for extermination, named or not. Real pests and
  // fictional foes are left out.
  rule(
    "dehumanize_exterminate",
    "hate",
    0.7,
    // Anchored on "are"; the subject is checked behind it once that matched.
    String.raw`\bare\b(?<=\b[a-z]\w+\s+are)(?<!\b(?:${PESTS})\s+are)${NOT_REPORTED}` +
      String.raw`\s+(?:all\s+|just\s+|nothing but\s+)?` +
      String.raw`(?!not\b|never\b)(?:\w+\s+)?(?:${DEHUMANIZING})\b${UNNEGATED}` +
      String.raw`\b(?:should|must|need to|ought to|deserve to|have to)\s+(?:all\s+)?(?:be\s+)?` +
      String.raw`(?:${EXTERMINATE})\b`,
    "vermin subhuman subhumans untermenschen parasites cockroaches rats animals savages plague " +
      "disease cancer filth scum human | exterminated wiped eradicated gassed eliminated " +
      "killed die purged culled cleansed annihilated hanged lynched burned shot sterilized " +
      "sterilised",
  ),
  rule(
    "hate_statement",
    "hate",
    0.6,
    `\\bi (?:hate|despise|loathe) (?:all\\s+)?(?:the\\s+)?(?:${GROUP})(?!\\w)|` +
    `(?<!\\w)(?:${GROUP})\\s+(?:are|is)\\s+` +
      `(?:all\\s+)?(?:the\\s+)?(?:worst|a cancer|ruining (?:the|our) (?:country|race))\\b`,
    `hate despise loathe worst cancer ruining | ${GROUP_WORDS}`,
  ),

  // --- weapons and dangerous instructions --------------------------------------------------
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
      "biological chemical dirty nuclear ghost untraceable tatp rdx semtex c4 detonator " +
      "detonators methamphetamine meth fentanyl " +
      "poison chlorine mustard cyanide zip zipgun weapons weapon",
  ),
  // Illegal firearm manufacture and conversion: a silencer, full auto, an auto sear, a gun
  // without a serial number. Buying one legally and the law on them stay clean.
  rule(
    "firearm_manufacture",
    "weapons",
    0.85,
    // The look-arounds come after the request words, so they run only where those matched.
    String.raw`\b(?:${ASKS}|${INTENT}|instructions|blueprints?|diagram|plans? for|steps|` +
      String.raw`parts list)\b(?<!\b(?:${NOT_REAL_GUN})\b[^.?!\n]{0,120})` +
      String.raw`(?![^.?!\n]{0,120}\b(?:${NOT_REAL_GUN})\b)[^.?!\n]{0,40}?` +
      String.raw`\b(?:${MANUFACTURE})\b[^.?!\n]{0,50}?\b(?:${ARMS})(?!\w)`,
    "machine machinegun machineguns sear sears autosear dias lightning switch select " +
      "selectfire fullauto full auto automatic burst bump bumpstock forced ghost untraceable " +
      "80 unserialized unserialised | make making build building construct assemble " +
      "manufacture 3d print machine mill drill convert converting turn modify fabricate " +
      "finish diy",
  ),
  // Buying what the law restricts, around the law: a machine gun on the dark web, a silencer
  // without the paperwork. A lawful purchase ("with a Form 4") names none of these.
  rule(
    "arms_illicit_purchase",
    "weapons",
    0.85,
    String.raw`\b(?:${ASKS}|${INTENT}|where (?:can|could|do) (?:i|we|you|one))\s+` +
      String.raw`(?:\w+\s+){0,2}?(?:buy|get|obtain|acquire|order|purchase)\b[^.?!\n]{0,50}?` +
      String.raw`\b(?:${ARMS}|silencers?|suppressors?)(?!\w)[^.?!\n]{0,60}?(?:\billegally\b|` +
      String.raw`\bwithout (?:an? |the |any )?(?:background checks?|paperwork|licen[cs]e|` +
      String.raw`serial(?: numbers?)?|registration|tax stamp|form 4|id)\b|\b(?:on|from) the ` +
      String.raw`(?:dark ?web|black market)\b|\bno questions asked\b)`,
    "machine machinegun machineguns sear sears autosear dias lightning switch select " +
      "selectfire fullauto full auto automatic burst bump bumpstock forced ghost untraceable " +
      "unserialized unserialised silencer silencers suppressor suppressors | illegally " +
      "without dark darkweb black questions",
  ),
  // A home-made silencer. With the paperwork (a Form 1 in the US) it is legal, so a question
  // that names it stays clean.
  rule(
    "suppressor_manufacture",
    "weapons",
    0.85,
    String.raw`\b(?:${ASKS}|${INTENT}|instructions|blueprints?|diagram|plans? for|steps|` +
      String.raw`parts list)\b(?![^.?!\n]{0,120}\b(?:${PAPERWORK}|${NOT_REAL_GUN})\b)` +
      String.raw`[^.?!\n]{0,40}?\b(?:${MANUFACTURE})\b[^.?!\n]{0,50}?` +
      String.raw`\b(?:silencers?|suppressors?)\b`,
    "silencer silencers suppressor suppressors",
  ),
  rule(
    "serial_removal",
    "weapons",
    0.8,
    String.raw`\b(?:${ASKS}|${INTENT})\s+(?:\w+\s+){0,2}?(?:remove|file off|grind off|erase|` +
      String.raw`obliterate|scratch off|deface|get rid of)\s+(?:the\s+|a\s+)?serial(?: numbers?)?` +
      String.raw`\b[^.?!\n]{0,40}?\b(?:gun|pistol|rifle|firearm|handgun|glock|weapon|receiver|` +
      String.raw`frame|ar 15|ar15)s?\b`,
    "serial",
  ),
  rule(
    "solvent_trap_suppressor",
    "weapons",
    0.85,
    String.raw`\b(?:drill|convert|turn|make|index|build|machine)\w*\b` +
      String.raw`(?![^.?!\n]{0,160}\b(?:${PAPERWORK})\b)[^.?!\n]{0,60}?(?:` +
      String.raw`\bsolvent traps?\b[^.?!\n]{0,60}?\b(?:silencer|suppressor|moderator|can)s?\b|` +
      String.raw`\b(?:silencer|suppressor)s?\b[^.?!\n]{0,60}?\bsolvent traps?\b)`,
    "solvent",
  ),
  // Making a toxic gas on purpose; "which chemicals should I never mix" is safety advice.
  rule(
    "toxic_gas_make",
    "weapons",
    0.7,
    String.raw`\b(?:${ASKS}|${INTENT}|(?:what|which)\s+(?:\w+\s+){0,2}?(?:can|could|would|do|` +
      String.raw`should) (?:i|we))\s+(?:mix|combine|use|put together)\b[^.?!\n]{0,40}?` +
      String.raw`\b(?:to|and)\s+(?:make|create|produce|get|release|generate)\s+(?:a\s+|some\s+)?` +
      String.raw`(?:toxic|poisonous|deadly|lethal|noxious)\s+(?:gas|fumes|cloud|smoke|vapou?rs?)` +
      String.raw`|\b(?:${ASKS}|${INTENT})\s+(?:\w+\s+){0,2}?(?:make|create|produce|release)\s+` +
      String.raw`(?:a\s+|some\s+)?(?:toxic|poisonous|deadly|lethal)\s+(?:gas|fumes)\b` +
      String.raw`(?![^.?!\n]{0,30}\b(?:by accident|accidentally)\b)`,
    "toxic poisonous deadly lethal noxious",
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

  // Other languages: German verbs may come last ("wie kann ich eine Rohrbombe bauen").
  rule(
    "weapon_howto_de",
    "weapons",
    0.85,
    String.raw`\bwie (?:${DE_MAKE}) (?:ich|man|wir)\b[^.?!\n]{0,40}?\b(?:${DE_WEAPON})\b|` +
      String.raw`\b(?:${DE_ASK})\b[^.?!\n]{0,40}?(?:\b(?:${DE_MAKE})\b[^.?!\n]{0,40}?` +
      String.raw`\b(?:${DE_WEAPON})\b|\b(?:${DE_WEAPON})\b[^.?!\n]{0,30}?\b(?:${DE_MAKE})\b)`,
    "bombe bomben rohrbombe rohrbomben nagelbombe autobombe briefbombe paketbombe " +
      "splitterbombe brandbombe atombombe sprengstoff sprengstoffe sprengsatz sprengsatze " +
      "sprengkorper sprengladung brandsatz molotow molotowcocktail molotov molotovcocktail " +
      "handgranate handgranaten granate granaten landmine landminen nervengas giftgas sarin " +
      "schalldampfer | wie anleitung bauanleitung rezept ich zeig zeige erklar erklare bring " +
      "bringe",
  ),
  rule(
    "weapon_howto_fr",
    "weapons",
    0.85,
    String.raw`\b(?:${FR_ASK})\b[^.?!\n]{0,20}?\b(?:${FR_MAKE})\b[^.?!\n]{0,30}?` +
      String.raw`\b(?:${FR_WEAPON})(?!\w)`,
    "bombe bombes explosif explosifs engin engins molotov grenade grenades mines gaz " +
      "silencieux arme pistolet detonateur detonateurs napalm nitroglycerine tatp | comment " +
      "tutoriel tuto recette instructions etapes je apprends explique expliquez montre " +
      "montrez aide aidez",
  ),
  rule(
    "weapon_howto_es",
    "weapons",
    0.85,
    String.raw`\b(?:${ES_ASK})\b[^.?!\n]{0,20}?\b(?:${ES_MAKE})\b[^.?!\n]{0,30}?` +
      String.raw`\b(?:${IBERIAN_WEAPON})`,
    "bomba bombas explosivo explosivos artefacto artefactos dispositivo dispositivos coctel " +
      "cocteles molotov granada granadas gas detonador detonadores napalm nitroglicerina tatp " +
      "silenciador silenciadores arma | como instrucciones receta pasos tutorial guia manera " +
      "forma quiero necesito ensename explicame dime",
  ),
  rule(
    "weapon_howto_pt",
    "weapons",
    0.85,
    String.raw`\b(?:${PT_ASK})\b[^.?!\n]{0,20}?\b(?:${PT_MAKE})\b[^.?!\n]{0,30}?` +
      String.raw`\b(?:${IBERIAN_WEAPON})`,
    "bomba bombas explosivo explosivos artefato artefatos dispositivo dispositivos coquetel " +
      "coqueteis molotov granada granadas gas detonador detonadores napalm nitroglicerina " +
      "tatp silenciador silenciadores arma | como instrucoes receita passo tutorial quero " +
      "preciso ensine ensina explique diga",
  ),
  rule(
    "weapon_howto_it",
    "weapons",
    0.85,
    String.raw`\b(?:${IT_ASK})\b[^.?!\n]{0,20}?\b(?:${IT_MAKE})\b[^.?!\n]{0,30}?` +
      String.raw`\b(?:${IT_WEAPON})`,
    "bomba bombe ordigno ordigni esplosivi esplosivo molotov granate antiuomo nervino sarin " +
      "tossico silenziatore silenziatori detonatore detonatori napalm nitroglicerina tatp | " +
      "come istruzioni ricetta guida tutorial voglio insegnami spiegami dimmi",
  ),
  rule(
    "weapon_howto_ru",
    "weapons",
    0.85,
    `${RU_EDGE}(?:${RU_ASK})(?![а-яё])[^.?!\\n]{0,40}?${RU_EDGE}(?:${RU_MAKE})(?![а-яё])` +
      `[^.?!\\n]{0,40}?${RU_EDGE}(?:${RU_WEAPON})`,
    "бомб взрывчат взрывн молотов гранат глушител зарин нервно детонатор тротил",
    { view: "script" },
  ),
  rule(
    "weapon_howto_zh",
    "weapons",
    0.85,
    `(?:如何|怎么|怎麼|怎样|怎樣|教我|告诉我|告訴我|想要?|步骤|步驟|方法)[^。？！?!\\n]{0,10}?` +
      `(?:${ZH_MAKE})[^。？！?!\\n]{0,8}?(?:${ZH_WEAPON})|(?:${ZH_WEAPON})(?:要|该|該)?` +
      `(?:怎么|怎麼|如何|的)(?:做|制作|製作|制造|製造|自制|自製)`,
    "炸弹 炸彈 炸药 炸藥 爆炸 燃烧 燃燒 雷管 沙林 神经 神經 消音器 消声器 手榴",
    { view: "script" },
  ),
  rule(
    "weapon_howto_ja",
    "weapons",
    0.85,
    `(?:${JA_WEAPON})[のを]?(?:作り方|作る方法|製造方法|製造法|製法|作成方法|組み立て方|自作方法|` +
      `作りたい|作って|自作したい|製造したい)|(?:どうやって|どのように)[^。？！?!\\n]{0,10}?` +
      `(?:${JA_WEAPON})[^。？！?!\\n]{0,6}?(?:作|製造|組み立)`,
    "爆弾 爆発物 爆薬 火炎瓶 手榴弾 サリン 神経ガス 消音器 サプレッサー 起爆装置",
    { view: "script" },
  ),
  rule(
    "weapon_howto_ar",
    "weapons",
    0.85,
    `(?:${AR_ASK})[^.؟?!\\n]{0,30}?(?:${AR_MAKE})[^.؟?!\\n]{0,20}?(?:${AR_WEAPON})` +
      "(?!\\s*(?:ال)?استحمام)",
    "قنبل قنابل متفجر ناسف مولوتوف كاتم السارين",
    { view: "script" },
  ),
];

// Letters of the scripts the script view handles.
const OTHER_SCRIPT = /[\u0400-\u04ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff]/;
// Any script rule's trigger, case-insensitive, on the text as sent: folding a copy costs more
// than every script rule together, so it is made only when one of them can match.
const SCRIPT_TRIGGERS = new RegExp(
  CONTENT_RULES.filter((r) => r.view === "script")
    .flatMap((r) => r.triggers.flat())
    .filter((t): t is string => typeof t === "string")
    .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("|"),
  "i",
);

/** True when the text may match a script-view rule, so its script-keeping copy is needed. */
export function needsScriptView(text: string): boolean {
  return OTHER_SCRIPT.test(text) && SCRIPT_TRIGGERS.test(text);
}

// Leetspeak in short words: the normaliser reads digits as letters only in words of three or
// more characters ("m4k3"), so "h0w t0 m4k3 4 b0mb" folds to "how t0 make 4 bomb". A short
// function word in leetspeak ("t0", "d0", "1t", "0f") marks a leetspeak text; then every
// short word is read too. Not any letter-digit pair: "3d", "4k" and "mp3" are everyday words,
// and a marked text runs the rules twice. Same length in and out, so offsets stay valid.
// They are trigger words, so the check is a look-up in the text's word list, not a scan.
const SHORT_LEET_MARK = registerGroups([
  "t0 d0 g0 n0 s0 0f 0n 0r 1n 1s 1t 1f m3 w3 b3 h3 4n 4s 4t 4m".split(" "),
]);
const SHORT_LEET = /(?<![a-z0-9'])(?:[a-z][01345789]|[01345789][a-z]|[14])(?![a-z0-9'])/g;
const SHORT_LEET_MAP: Readonly<Record<string, string>> = {
  "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
};

/**
 * The folded text with leetspeak read in short words too, or undefined when the text has no
 * short leetspeak word. Rules run on both, so "3d print" or "c4" keep their usual reading.
 */
export function foldShortLeet(folded: string, vocab: Vocabulary): string | undefined {
  if (!hasAllGroups(vocab, SHORT_LEET_MARK)) return undefined;
  return folded.replace(SHORT_LEET, (word) =>
    Array.from(word, (c) => SHORT_LEET_MAP[c] ?? c).join(""),
  );
}

/** True when the text reads as protective or educational about minors' safety. */
export function protectiveContext(text: string): boolean {
  return PROTECTIVE.test(text);
}
