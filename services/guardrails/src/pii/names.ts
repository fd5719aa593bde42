/**
 * Word lists for the person-name detector: common given names and surnames of many
 * countries, written down here from general knowledge of naming (not from any evaluation
 * data), plus the words that look like names but usually are not. Lists are lower case and
 * without diacritics; look-ups fold a word the same way.
 */

function set(...groups: string[]): ReadonlySet<string> {
  return new Set(groups.join(" ").split(/\s+/).filter((w) => w.length > 0));
}

/** Given names: English, German, French, Spanish, Italian, Portuguese, Dutch, Nordic, ... */
export const GIVEN_NAMES = set(
  // English-speaking countries
  "aaron adam adrian aidan alan albert alex alexander alexandra alexis alfred alice alicia " +
    "alison allison amanda amber amelia amy andrea andrew angela angelina anna anne annie " +
    "anthony antonio arthur ashley audrey austin ava barbara benjamin beth betty beverly " +
    "blake bob bobby bradley brandon brenda brett brian brittany brooke bruce bryan caitlin " +
    "caleb cameron carl carla carol caroline carolyn casey catherine charles charlie " +
    "chelsea cheryl chloe chris christian christina christine christopher cindy claire " +
    "clara cody colin connor craig crystal cynthia dale dan daniel danielle danny darren " +
    "dave david dean deborah debra denise dennis derek diana diane donald donna doris dorothy " +
    "douglas dylan edward eileen elaine eleanor elijah elizabeth ella ellen emily emma eric " +
    "erica erin ethan eugene evan evelyn frances frank fred gabriel gail gary gavin george " +
    "gerald gina gloria gordon grace graham greg gregory hailey hannah harold harry heather " +
    "helen henry holly howard ian isaac isabella isabelle jack jackie jacob jacqueline jade " +
    "jake james jamie jane janet janice jared jasmine jason jeff jeffrey jennifer jenny " +
    "jeremy jerry jesse jessica jill jim jimmy joan joanne joe joel john johnny jon jonathan " +
    "jordan joseph josh joshua joyce judith judy julia julian julie justin karen kate " +
    "katherine kathleen kathryn kathy katie kayla keith kelly ken kenneth kevin kim kimberly " +
    "kyle larry laura lauren leah lee leo leon lewis liam lillian lily linda lindsay lisa " +
    "logan lori louis louise lucas lucy luke lynn madison maggie malcolm mandy marcus " +
    "margaret maria marie marilyn marion martha martin mary mason matt matthew megan melanie " +
    "melissa michael michelle mike mildred molly monica nancy natalie nathan neil nicholas " +
    "nick nicole noah nora norma oliver olivia oscar owen pamela patricia patrick paul " +
    "paula peggy peter philip phillip rachel ralph randy raymond rebecca regina richard " +
    "rick rita rob robert robin rodney roger ronald rose ross roy ruby russell ruth ryan " +
    "sally sam samantha samuel sandra sara sarah scott sean shane shannon sharon shawn " +
    "sheila shirley simon sophia sophie stacy stanley stephanie stephen steve steven stuart " +
    "susan suzanne sydney tammy tanya taylor teresa terry theodore theresa thomas tiffany " +
    "tim timothy tina todd tom tommy tony tracy travis trevor tyler valerie vanessa victor " +
    "victoria vincent virginia walter wayne wendy wesley william willie zachary zack zak zoe",
  // German, Austrian, Swiss
  "andreas anja annika bernd birgit christa claudia dieter dirk elke erika ernst felix " +
    "florian franz frieda friedrich fritz gerhard gisela gunter hans hannelore heike heinz " +
    "helga helmut herbert horst ilse ingrid jan jens jonas jorg jurgen karin karl katrin " +
    "klaus kurt lars lena lukas manfred markus maximilian monika niklas petra rainer " +
    "ralf renate rolf sabine sebastian silke stefan susanne sven thorsten tobias torsten " +
    "udo ulrich ursula uwe volker werner wolfgang",
  // French, Belgian, Quebec
  "adele adrien agnes alain amelie antoine aurelie benoit bernard brigitte camille " +
    "cecile celine chantal christophe claude clement colette corinne damien delphine " +
    "didier dominique elise emilie emmanuel etienne fabien fabrice florence francois " +
    "francoise frederic gael genevieve georges gerard gilles guillaume helene herve " +
    "hugo isabelle jacques jean jeanne jerome josephine julien laetitia laurent lea " +
    "louis lucie madeleine manon marc marcel marguerite margot marianne mathieu mathilde " +
    "maxime michel mireille monique nathalie nicolas noel odile olivier pascal philippe " +
    "pierre remi rene romain sandrine serge simone solene stephane sylvie thierry thibault " +
    "valerie veronique yann yannick yves",
  // Spanish, Latin American
  "adriana alberto alejandra alejandro alfonso alicia alvaro ana andres angel antonia " +
    "beatriz carlos carmen catalina cristina diego dolores eduardo elena emilio enrique " +
    "esteban fernanda fernando francisco gabriela gonzalo guadalupe guillermo gustavo " +
    "ignacio ines isabel javier jesus jimena joaquin jorge jose josefa juan juana julio " +
    "laura leonardo lorena lucia luis manuel marcela margarita mariana marisol marta " +
    "mateo mercedes miguel monserrat natalia nicolas pablo paloma patricio paz pedro pilar " +
    "rafael ramon raquel ricardo roberto rocio rodrigo rosa rosario santiago sergio silvia " +
    "sofia teresa valentina vicente ximena",
  // Italian
  "alessandra alessandro alessia andrea angelo antonella antonio arianna beatrice " +
    "bruno carla carlo chiara claudio cristiano daniela davide domenico elena elisa " +
    "emanuele enrico enzo federica federico francesca francesco gabriele giacomo gianluca " +
    "gianni giorgia giorgio giovanna giovanni giulia giulio giuseppe ilaria leonardo " +
    "lorenzo luca lucia luigi marco mario massimo matteo mattia michele nicola paola " +
    "paolo pietro raffaele riccardo roberta roberto salvatore sara silvio simona simone " +
    "stefano tommaso valentina valerio vincenzo vittoria",
  // Portuguese, Brazilian
  "afonso antonio beatriz bruna caio camila carolina catarina clarice daniela diogo " +
    "duarte eduarda fabio felipe fernanda flavia goncalo guilherme gustavo helena " +
    "henrique joao joana juliana larissa leticia lucas luana luiz marcelo marcos mariana " +
    "matheus murilo paulo rafaela renata rodrigo tiago vinicius vitor vitoria",
  // Dutch, Flemish
  "anouk bas bram daan dirk eline emma femke floor geert hendrik henk jaap jan jeroen " +
    "joost koen lieke lotte maarten marieke mark niels pieter rik ruud sanne sem sjoerd " +
    "stijn thijs tim wouter",
  // Nordic
  "anders anette annika arne astrid birgitta bjorn britt dag eirik elin emil erik ester " +
    "henrik ida jesper kasper kirsten mette mikkel morten " +
    "freya frida gunnar gustav hanna hilde inga inge ingrid jarl johan jonas karin kari " +
    "kristian kristin lars leif linnea magnus maja mats mikael nils ola olav olof oskar " +
    "pernille ragnar rasmus sigrid signe siri solveig stig svea sven tor torbjorn tove " +
    "ulf ulla vilhelm",
  // Slavic, Baltic, Hungarian, Greek
  "agata agnieszka aleksandar aleksander aleksandra alena alexei alina anastasia andrej " +
    "andrzej anton boris bozena dariusz dmitri dmitry dragan ekaterina elena galina goran " +
    "grzegorz igor irina ivan ivana jakub jana janusz jaroslav jiri joanna jozef karolina " +
    "katarzyna kinga krzysztof lenka lucie lukasz magdalena malgorzata marek marta " +
    "martina matej michal mikhail milan milena miroslav natasha nikola nikolai oksana " +
    "olga ondrej pavel pavla petr piotr radek sergei sergey slavomir stanislav svetlana " +
    "tatiana tomas tomasz vaclav vladimir vojtech wojciech yulia zbigniew zuzana " +
    "andras attila balazs eszter gabor istvan janos katalin laszlo zoltan zsofia " +
    "athanasios christos dimitris eleni georgios ioannis konstantinos maria nikos " +
    "sofia spyros vasilis yiannis",
  // Arabic, Persian, Turkish, Hebrew
  "abdullah ahmad ahmed ali amina amir aisha bilal fatima farah hamza hassan hussein " +
    "ibrahim karim khaled khalid layla leila mahmoud mariam mohamed mohammad mohammed " +
    "mustafa nadia omar rami rania reza samir sara tariq yasmin yousef youssef zainab " +
    "zahra ayse burak can cem elif emre fatma hakan mehmet murat ozlem selin serkan " +
    "aviva avi eitan moshe noa shira tamar yael yosef",
  // South Asian
  "aarav aditya amit ananya anil anita arjun deepak divya ganesh gaurav kavita krishna " +
    "lakshmi manish meera neha nikhil pooja priya rahul raj rajesh ravi rohan sanjay " +
    "shreya sunil sunita suresh vijay vikram",
  // East and South-East Asian
  "haruto hiroshi kenji kenta keiko akira yuki yuko takashi takeshi naoki sakura " +
    "aiko daisuke emi haruka kaori kazuo makoto masato satoshi shota yui yuto " +
    "jiwoo minjun seojun jihoon minji seoyeon hyun sungmin " +
    "wei jun jie hao ming xiao yan mei ling hui jing ying xin " +
    "nguyen minh thanh linh anh tuan",
  // African
  "abena adebayo ama amara chidi chinedu chioma emeka kofi kwame nkechi obinna " +
    "oluwaseun sipho thabo themba tendai uchenna zanele",
);

/** Surnames, for names written as a surname alone or behind an unknown given name. */
export const SURNAMES = set(
  "adams allen anderson bailey baker barnes bell bennett brooks brown bryant butler " +
    "campbell carter clark coleman collins cook cooper cox davies davis edwards evans " +
    "fisher foster garcia gonzalez gray green griffin hall harris hayes henderson hill " +
    "howard hughes jackson james jenkins johnson jones kelly king lee lewis long lopez " +
    "martin martinez miller mitchell moore morgan morris murphy nelson parker patterson " +
    "perez perry peterson phillips powell price reed richardson roberts robinson rodriguez " +
    "rogers ross russell sanchez sanders scott simmons smith stewart sullivan taylor " +
    "thomas thompson torres turner walker ward watson white williams wilson wood wright " +
    "young",
  "bauer becker braun fischer frank hartmann hoffmann huber keller klein koch kruger " +
    "lange lehmann meier meyer muller neumann richter schafer schmid schmidt schmitt " +
    "schneider schreiber schroder schulz schwarz wagner weber werner wolf zimmermann",
  "bernard bertrand blanc bonnet david dubois dupont durand fontaine fournier garnier " +
    "girard lambert laurent lefebvre lefevre leroy martin mercier michel moreau morel " +
    "petit renaud robert roux simon vincent",
  "alvarez castillo castro diaz dominguez fernandez flores gomez gutierrez hernandez " +
    "jimenez moreno munoz navarro ortiz ramirez ramos romero rubio ruiz suarez vargas " +
    "vazquez almeida alves araujo barbosa carvalho costa ferreira gomes lima oliveira " +
    "pereira ribeiro rocha santos silva sousa souza",
  "bianchi bruno colombo conti costa esposito ferrari ferraro fontana galli gallo " +
    "greco lombardi mancini marino moretti ricci rinaldi romano rossi russo",
  "bakker de jong de vries dekker jansen janssen mulder peeters smit van dijk visser " +
    "andersen andersson berg dahl hansen holm johansson karlsson larsen lindberg lund " +
    "nielsen nilsson olsen persson petersen svensson",
  "dvorak horvath kovac kovacs kowalski lewandowski nagy nowak novak novakova novotny " +
    "petrov popov ivanov smirnov sokolov volkov wojcik zielinski kaminski",
  "chen cheng huang li lin liu ma sun wang wu xu yang zhang zhao zhou zhu " +
    "ito kato kobayashi nakamura sato suzuki takahashi tanaka watanabe yamamoto " +
    "choi jung kang kim park yoon " +
    "nguyen tran pham " +
    "gupta iyer joshi kumar mehta nair patel rao reddy shah sharma singh " +
    "abdullah haddad hassan khan mansour nasser rahman saleh " +
    "cohen levi levy " +
    "okafor okonkwo mensah",
);

/**
 * Capitalised words that are given names but far more often something else (months, verbs,
 * virtues, places, assistants): they count as a name only next to another name part or
 * after a strong cue such as "my name is".
 */
export const AMBIGUOUS_NAMES = set(
  "april may june august will mark bill grace hope faith joy amber summer dawn art " +
    "sky rose ruby pat sue rob gene buck chase drew hunter mason page jan " +
    "sydney victoria florence georgia virginia austin jordan madison charlotte regina " +
    "lincoln houston dallas chelsea paris adelaide eugene jackson lee long young " +
    "king green brown white black gray grey hill wood bell cook baker carter walker " +
    "turner price ward hall " +
    "claude siri alexa cortana gemini bard jesus christian angel can cem lima " +
    "costa silva bruno santos paz rosa mercedes dolores ming li jun wei lin ma sun wu " +
    "mei hao yan ling hui jing xin kim park jung kang choi yoon nguyen tran pham " +
    "an anh minh linh tuan rao long",
);

/** Honorifics and titles: the name after one is a person's (the title itself is not). */
export const HONORIFICS =
  "mr|mrs|ms|miss|mx|dr|prof|professor|sir|dame|lady|lord|madam|madame|mme|mlle|monsieur|" +
  "herr|frau|fraulein|señor|senor|señora|senora|señorita|senorita|sr|sra|srta|don|doña|" +
  "dona|sig|sig\\.ra|signor|signora|signorina|capt|captain|col|gen|lt|sgt|rev|fr|" +
  "judge|officer|detective|aunt|uncle|grandma|grandpa";

/** Words that end a name when they follow it: a street, a firm, a place, a work. */
export const NOT_AFTER_NAME = set(
  "street st avenue ave road rd boulevard blvd drive dr lane ln way court ct close place " +
    "square terrace crescent park parkway highway gardens grove hill heights mews row walk " +
    "inc ltd llc corp corporation company co group gmbh ag sa plc university college " +
    "school hospital hotel bank museum church airport station center centre institute " +
    "foundation bridge river lake mountain island county city state valley beach bay " +
    "capital partners associates holdings technologies industries stripes house",
);

/** Capitalised words that never start a name (sentence openers, pronouns, weekdays...). */
export const NEVER_NAMES = set(
  "the a an and or but if in on at to for of from by with about as is are was were be " +
    "this that these those there here it its he she they we you i me my your our their " +
    "his her what who when where why how which hi hello hey dear thanks thank please " +
    "yes no not ok okay good great dear sir madam monday tuesday wednesday thursday friday " +
    "saturday sunday january february march july september october november december " +
    "mr mrs ms dr god english french german spanish italian chinese american british " +
    "user bot assistant system human customer name address phone email subject note",
);

/** Surname endings common across Europe: "-sson", "-dóttir", "-ski", "-ović", "-enko". */
export const SURNAME_SUFFIX = new RegExp(
  "(?:sson|dottir|ssen|[^s]sen|qvist|quist|strom|ovic|evic|ovich|ova|ska|ski|sky|czyk|wicz|" +
    "enko|escu|opoulos|akis|oglu|shvili|adze|stein|mann|berg)$",
);
