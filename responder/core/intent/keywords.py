"""Hand-written cue words per intent and language: the keyword layer of the builtin head.

They are not rules: each intent's hits become one feature the trained head weighs
(a refund cue inside a damaged-item complaint is normal). They help where the
training mail is thin and keep common phrasings recognised in every language.

Syntax of an entry (compared after lower-casing and removing accents, see
responder.core.text.fold, so "zrušit" and "zrusit" are the same):

    word          the whole word only
    stem*         any word starting with stem (inflected forms)
    *part*        any word containing part (compounds: rückerstattung)
    two words     consecutive words, each may use the * forms

Written from general knowledge of how customers phrase these requests, not
taken from the evaluation data. A changed list needs a re-train
(scripts/train_intent.py), since the head learnt the weights of these features.
"""
from __future__ import annotations

from functools import lru_cache

from responder.core.text import fold, tokens

CUES: dict[str, dict[str, str]] = {
    "en": {
        "refund_request": "refund*, money back, reimburs*, my money, send it back, return it, "
                          "return the, return this, return my, full amount back, repay*",
        "where_is_my_order": "where is my order, where is my package, where is my parcel, track*, "
                             "not arrived, hasn't arrived, has not arrived, never arrived, "
                             "not received, haven't received, have not received, never received, "
                             "still waiting, still not, deliver*, shipp*, shipment, parcel, "
                             "package, when will, postman, courier, dispatch*, in transit, "
                             "how long does, nothing yet, not yet, still nothing, didn't arrive, "
                             "did not arrive, not delivered, never came, not here yet, hasn't come",
        "damaged_or_wrong_item": "damag*, broken, broke, crack*, smash*, shatter*, defect*, "
                                 "faulty, wrong item, wrong size, wrong colour, wrong color, "
                                 "wrong product, wrong one, not what i ordered, missing part*, "
                                 "torn, ripped, scratch*, dent*, leak*, stopped working, "
                                 "doesn't work, does not work, chip, chipped, bent, "
                                 "not what i ordered, instead of, received the wrong, "
                                 "sent me the wrong, sent the wrong, missing, incomplete, stain*, "
                                 "dirty, used, worn, faded, blurry, misprint*, missing pages, "
                                 "upside down, wrong version, wrong edition, poor quality, "
                                 "fell apart, falls apart, came apart, peeling, mould, mold, "
                                 "not as described, different from the picture, doesn't match, "
                                 "does not match, replacement, exchange, swap",
        "cancel_order": "cancel*, call off, no longer want, don't want it, do not want it, "
                        "changed my mind, change my mind, stop the order, stop my order, "
                        "don't send, do not send, don't ship, do not ship, "
                        "unsubscribe from the subscription, end my subscription, "
                        "cancel my subscription",
        "login_or_password_trouble": "password*, login, log in, logging in, log into, sign in, "
                                     "signin, sign into, account, locked out, locked, reset link, "
                                     "username, user name, two factor, 0fa, verification code, "
                                     "can't access, cannot access, credentials, two step, 0 step, "
                                     "authenticat*, verification, authenticator",
        "download_trouble": "download*, the file, file, files, link expired, link doesn't work, "
                            "dead link, broken link, ebook, e book, pdf, zip, epub, mp0, "
                            "won't open, can't open, cannot open, corrupt*, license key, "
                            "activation key, unzip*, extract*, link not working, "
                            "link is not working, link does not work",
        "product_question": "does it, is it, do you have, do you sell, in stock, size, sizes, "
                            "sizing, compatible, compatibility, what is the, material, made of, "
                            "dimension*, will it fit, does this, is this, available, availability, "
                            "question about, how many, how long, which, can i use, colours, "
                            "colors, specification*, specs, waterproof, before i buy, "
                            "before ordering, can i, could i, format, formats, install on, "
                            "work on, run on, does the, licen* on",
        "billing_or_charge_dispute": "charged, charge, charges, twice, double charged, double, "
                                     "invoice*, bill, billed, billing, credit card, card, "
                                     "bank statement, statement, overcharg*, payment*, paid twice, "
                                     "unauthori*, subscription, vat, receipt, chargeback, "
                                     "taken from my account, debited, amount, fee, fees, extra, "
                                     "bank, price, moneyx, surcharge, service fee",
        "other": "newsletter, unsubscribe, mailing list, job, vacancy, cv, resume, application, "
                 "partnership, collaborat*, cooperation, wholesale, change of address, "
                 "new address, wrong address, address, review, reviews, sponsor*, opening hours, "
                 "phone number, invoice address",
        "thanks_or_praise": "thank*, thanks, thx, great service, love it, loved it, love, amazing, "
                            "excellent, wonderful, well done, appreciat*, happy, fantastic, "
                            "brilliant, awesome, perfect, delighted, kudos, superb, compliment*, "
                            "keep it up, favourite, favorite, quality, recommend*, grateful, "
                            "satisfied, pleased, glad, beautiful, lovely, helpful, "
                            "highly recommend, 0 stars, five stars, made my day, gorgeous",
    },
    "fr": {
        "refund_request": "rembours*, mon argent, argent, retour, retourner, renvoyer, restitu*, "
                          "me rendre",
        "where_is_my_order": "ou est ma commande, ou en est, suivi, numero de suivi, colis, "
                             "livraison, livre, livree, pas recu, pas encore recu, jamais recu, "
                             "toujours pas, toujours rien, expedi*, quand vais je, "
                             "quand est ce que, facteur, transporteur, acheminement, "
                             "combien de temps, toujours pas recu, rien recu, pas arrive, "
                             "pas arrivee, jamais arrive, pas ete livre, toujours pas arrive",
        "damaged_or_wrong_item": "endommag*, cass*, abime*, defectu*, defaut, mauvais article, "
                                 "mauvais produit, pas le bon, pas la bonne, mauvaise taille, "
                                 "mauvaise couleur, erreur, fissur*, fele*, dechir*, raye*, "
                                 "ne fonctionne pas, ne marche pas, abim*, mauvais*, au lieu de, "
                                 "pas ce que j'ai commande, explose*, arrache*, ebrech*, tordu*, "
                                 "ecrase*, manquant*, incomplet*, tache*, sale, usage, delave*, "
                                 "flou*, pages manquantes, mauvaise version, mauvaise edition, "
                                 "qualite mediocre, se decoll*, moisi*, pas conforme, "
                                 "non conforme, ne correspond pas, remplacement, echange*, "
                                 "echanger, reclamation",
        "cancel_order": "annul*, ne veux plus, ne le veux plus, change d'avis, changer d'avis, "
                        "arreter la commande, ne pas expedier, ne pas envoyer, resilier, "
                        "resiliation, desabonn*",
        "login_or_password_trouble": "mot de passe, mdp, connexion, connecter, connecte, "
                                     "identifiant*, compte, reinitialis*, se connecter, bloque, "
                                     "verrouill*, code de verification, acces a mon compte, "
                                     "deux facteurs, double authentification, authentifi*, "
                                     "code de connexion",
        "download_trouble": "telecharg*, fichier*, lien, liens, pdf, ne s'ouvre pas, ouvrir, zip, "
                            "ebook, livre numerique, corrompu*, cle de licence, expire*, "
                            "lien ne fonctionne pas, lien ne marche pas, lien mort",
        "product_question": "est ce que, est il, est elle, avez vous, en stock, taille, tailles, "
                            "compatible*, dimension*, matiere, materiau*, disponib*, question, "
                            "combien, quelle, quel, convient, fait en, avant d'acheter, puis je, "
                            "peut on, existe t il, existe, format, formats, installer sur, "
                            "fonctionne sur, licence sur",
        "billing_or_charge_dispute": "debit*, deux fois, double, facture*, factur*, paiement*, "
                                     "prelev*, carte bancaire, carte, montant, abonnement, releve, "
                                     "tva, paye deux, surfactur*, frais, supplement*, banque, "
                                     "prix, moneyx",
        "other": "newsletter, desabonner, desinscri*, candidature, cv, emploi, poste, partenariat, "
                 "collaboration, grossiste, changement d'adresse, adresse, nouvelle adresse, avis, "
                 "sponsor*, horaires, telephone",
        "thanks_or_praise": "merci, remerci*, bravo, super, excellent*, genial, parfait*, ravi, "
                            "ravie, satisfait*, felicit*, formidable, top, adore, magnifique, "
                            "compliment*, continuez, prefere, qualite, recommand*, content, "
                            "contente, heureux, heureuse, magnifique, gentil*, parfait etat, "
                            "0 etoiles, cinq etoiles, tres bien, un plaisir",
    },
    "de": {
        "refund_request": "*erstatt*, widerruf*, geld zuruck, mein geld, geld, *rucksend*, "
                          "retour*, zuruckgeben, zurucksenden, zuruckschicken, *zahlung zuruck, "
                          "gutschrift, ruckzahlung",
        "where_is_my_order": "wo ist meine bestellung, wo bleibt, sendungsverfolgung, "
                             "*verfolgung*, *paket*, lieferung, liefer*, geliefert, "
                             "nicht angekommen, nicht erhalten, noch nicht, immer noch, versand*, "
                             "verschickt, tracking, zusteller, *bote, wann kommt, unterwegs, dhl, "
                             "hermes, wie lange dauert, nichts bekommen, nicht bekommen, "
                             "noch nichts, nicht geliefert, nie angekommen, noch nicht da",
        "damaged_or_wrong_item": "beschadig*, kaputt, *kaputt*, zerbroch*, gebrochen, defekt*, "
                                 "falsch*, falsche artikel, gerissen, zerkratzt, kratzer*, "
                                 "*schaden*, funktioniert nicht, geht nicht, fehlt, fehlen*, "
                                 "zerdruckt, delle*, verbogen, gesprung*, *sprung*, statt, "
                                 "anstatt, nicht das was, zerbrochen, abgebrochen, verbeult, "
                                 "fehlend*, unvollstandig*, fleck*, schmutzig, gebraucht, "
                                 "verblasst, unscharf, seiten fehlen, fehlende seiten, "
                                 "falsche version, falsche ausgabe, schlechte qualitat, schimmel*, "
                                 "nicht wie beschrieben, entspricht nicht, ersatz*, umtausch*, "
                                 "austausch*, reklamation*, mangel*, mangelhaft",
        "cancel_order": "stornier*, storno*, abbestell*, widerruf*, *stornier*, nicht mehr, "
                        "zuruckzieh*, anders entschieden, nicht versenden, nicht mehr haben, "
                        "kundig*, *kundig*, abo kundig*, widerruf*",
        "login_or_password_trouble": "passwort*, kennwort*, anmeld*, einlogg*, login, konto, "
                                     "*konto*, zugang*, gesperrt, zurucksetz*, benutzername, "
                                     "zugangsdaten, bestatigungscode, einloggen, zwei faktor*, "
                                     "0 faktor*, authentifizier*, bestatigungs*",
        "download_trouble": "herunterlad*, runterlad*, download*, *download*, datei*, link, "
                            "offnen, lasst sich nicht, e book, ebook, pdf, zip, beschadigt datei, "
                            "lizenzschlussel, abgelaufen, link funktioniert nicht, "
                            "link geht nicht, downloadlink",
        "product_question": "gibt es, haben sie, lagernd, auf lager, grosse, grossen, kompatib*, "
                            "passt, material*, verfugbar*, frage, masse, abmessung*, wie gross, "
                            "welche, welcher, vor dem kauf, ist das, ist es, wasserdicht, "
                            "kann ich, lasst sich, format, formate, installieren auf, lauft auf, "
                            "funktioniert auf, lizenz auf",
        "billing_or_charge_dispute": "abgebucht, doppelt, rechnung*, zahlung*, belast*, "
                                     "kreditkarte, karte, abbuchung*, betrag, abonnement, abo, "
                                     "lastschrift, kontoauszug, zweimal, mehrwertsteuer, "
                                     "berechnet, gebuhr*, aufpreis, zusatzlich*, bank, preis, "
                                     "moneyx, mehr bezahlt",
        "other": "newsletter, abmeld*, bewerbung, lebenslauf, aushilfe, stelle, kooperation, "
                 "zusammenarbeit, grosshandel, adresse, adressanderung, neue adresse, bewertung, "
                 "rezension, dsgvo, datenschutz*, offnungszeiten, telefon*",
        "thanks_or_praise": "danke*, vielen dank, dank, toll, super, ausgezeichnet, hervorragend, "
                            "zufrieden, begeistert, lob, klasse, perfekt, wunderbar, grossartig, "
                            "spitze, kompliment*, kompliment*, weiter so, lieblings*, qualitat, "
                            "empfehl*, dankbar, freue, freut, froh, wunderschon, nett, "
                            "hilfsbereit*, 0 sterne, funf sterne, sehr gut, gefallt, gefallen",
    },
    "es": {
        "refund_request": "reembols*, devoluc*, devolver, mi dinero, dinero, devuelvan, devuelva, "
                          "reintegr*, restitu*",
        "where_is_my_order": "donde esta mi pedido, donde esta, seguimiento, no ha llegado, "
                             "no llega, no me ha llegado, paquete, envio, enviado, entrega, "
                             "entregado, todavia no, aun no, sigue sin, cuando llega*, "
                             "cuando recibire, repartidor, mensajer*, transportista, cuanto tarda, "
                             "no he recibido, nada todavia, no llego, nunca llego, "
                             "no ha sido entregado",
        "damaged_or_wrong_item": "danad*, dano*, roto, rota, rotos, rotas, defectuos*, defecto, "
                                 "equivocad*, incorrect*, no es el que, no es lo que, rayad*, "
                                 "articulo equivocado, talla equivocada, rajad*, agrietad*, "
                                 "no funciona, falta, faltan, estropead*, desportillad*, "
                                 "desconchon*, en lugar de, en vez de, no es lo que pedi, doblad*, "
                                 "aplastad*, mal estado, incomplet*, mancha*, sucio, sucia, usado, "
                                 "usada, destenid*, borros*, faltan paginas, version equivocada, "
                                 "mala calidad, se despega*, moho, no coincide, no corresponde, "
                                 "reemplazo, sustitu*, descosid*, reclamacion",
        "cancel_order": "cancel*, anul*, ya no quiero, no lo quiero, no la quiero, "
                        "cambie de opinion, no lo envien, no enviar, "
                        "darme de baja de la suscripcion, baja de la suscripcion",
        "login_or_password_trouble": "contrasena*, iniciar sesion, inicio de sesion, acceder, "
                                     "acceso, cuenta, usuario, restablecer, clave, bloquead*, "
                                     "codigo de verificacion, entrar en mi cuenta, dos factores, "
                                     "doble factor, autentica*, verificacion",
        "download_trouble": "descarg*, archivo*, enlace*, link, abrir, pdf, zip, ebook, "
                            "libro electronico, corrupt*, clave de licencia, caducad*, expirad*, "
                            "enlace no funciona, el enlace no, link no funciona",
        "product_question": "tienen, tiene, hay, en stock, talla, tallas, compatible*, material*, "
                            "disponib*, pregunta, medidas, cuanto mide, cual, cuales, sirve, "
                            "es de, antes de comprar, tamano, impermeable, cuantos, puedo, "
                            "se puede, formato, formatos, instalar en, funciona en, licencia en, "
                            "existe",
        "billing_or_charge_dispute": "cobr*, dos veces, doble, factur*, cargo*, cargad*, tarjeta, "
                                     "pago*, importe, suscripcion, extracto, iva, recibo, "
                                     "cantidad, no autoriz*, gastos, comision*, extra, banco, "
                                     "precio, moneyx, recargo",
        "other": "boletin, newsletter, darme de baja, candidatura, curriculum, empleo, "
                 "colaboracion, mayorista, cambio de direccion, direccion, nueva direccion, "
                 "resena, opinion, rgpd, horario*, telefono",
        "thanks_or_praise": "gracias, agradec*, excelente, genial, encant*, perfecto, maravill*, "
                            "felicit*, contento, contenta, satisfech*, estupend*, fantastic*, "
                            "increible, felicidad*, sigan asi, favorit*, calidad, recomiend*, "
                            "agradecid*, feliz, bonit*, precios*, amable*, 0 estrellas, "
                            "cinco estrellas, muy bien, me gusta",
    },
    "ru": {
        "refund_request": "возврат*, вернуть деньги, верните деньги, вернуть, верните, возмест*, "
                          "возмещ*, деньги назад, деньги обратно, мои деньги, деньги",
        "where_is_my_order": "где мой заказ, где заказ, где моя посылка, посылк*, доставк*, "
                             "доставлен*, не пришел, не пришла, не пришло, не получил*, "
                             "отслеживан*, трек*, до сих пор, когда придет, когда будет, "
                             "отправлен*, отправ*, курьер*, почт*, в пути, сколько ждать, "
                             "ничего не получил*, еще не получил*, не доставлен*, не дошл*, "
                             "не дошел",
        "damaged_or_wrong_item": "поврежд*, сломан*, сломал*, разбит*, брак*, бракован*, не тот, "
                                 "не та, не то, не те, неправильн*, треснут*, трещин*, порван*, "
                                 "дефект*, царапин*, поцарапан*, не работает, помят*, не хватает, "
                                 "не того, не ту, не тот товар, вместо, не то что заказывал*, "
                                 "погнут*, сколот*, скол*, разорван*, неполн*, пятн*, грязн*, "
                                 "выцвет*, размыт*, не та версия, плох* качеств*, некачествен*, "
                                 "отклеи*, плесен*, не соответствует, замен*, обмен*, рекламац*",
        "cancel_order": "отмен*, отказ*, не нужен, не нужна, не нужно, больше не нужен, "
                        "передумал*, не отправляите, не отправлять, отписат*, отменить подписку",
        "login_or_password_trouble": "парол*, логин*, войти, вход*, аккаунт*, учетн*, "
                                     "личныи кабинет, кабинет*, заблокир*, сброс*, "
                                     "код подтверждения, авторизац*, зайти, двухфактор*, "
                                     "двухэтапн*, аутентификац*, код подтвержд*, код для входа",
        "download_trouble": "скача*, скачив*, загруз*, файл*, ссылк*, не открыва*, архив*, pdf, "
                            "zip, книг*, поврежден файл, ключ, истек*, ссылк* не работает, "
                            "не работает ссылк*, битая ссылк*",
        "product_question": "есть ли, в наличии, наличи*, размер*, совместим*, материал*, вопрос*, "
                            "подоидет, подходит, сколько, характеристик*, какои, какая, какие, "
                            "можно ли, из чего, перед покупкои, можно, формат*, установить на, "
                            "работает на, лицензи* на, подоидет ли",
        "billing_or_charge_dispute": "списа*, списан*, дважды, два раза, счет*, оплат*, платеж*, "
                                     "карт*, сумм*, подписк*, чек*, снял*, сняли, выписк*, "
                                     "двоинои, лишн*, сбор*, комисси*, лишние, банк*, цен*, "
                                     "moneyx, руб*, доплат*",
        "other": "рассылк*, отписат*, ваканс*, резюме, сотрудничеств*, партнерств*, опт*, адрес*, "
                 "смена адреса, отзыв*, телефон*, связаться, режим работы",
        "thanks_or_praise": "спасибо, благодар*, отличн*, прекрасн*, супер, молодц*, доволен, "
                            "довольн*, восторг*, замечательн*, великолепн*, класс, лучши*, "
                            "комплимент*, так держать, любим*, качеств*, рекоменд*, благодарн*, "
                            "радост*, красив*, приятн*, любезн*, 0 звезд, пять звезд, "
                            "очень хорош*, понравил*, нравится",
    },
    "cs": {
        "refund_request": "vraceni penez, vraceni*, vratit penize, vratte penize, vratit, vratte, "
                          "vrat*, refundac*, penize zpet, penize, moje penize, vymen*, odstoup*",
        "where_is_my_order": "kde je moje objednavka, kde je objednavka, kde je, zasilk*, balik*, "
                             "baliku, doruc*, neprisl*, neprisla, neprislo, sledovan*, stale nic, "
                             "doprav*, odeslan*, kdy prijde, kdy dorazi, kuryr*, posta, prepravce, "
                             "porad nic, jeste neprisl*, jak dlouho, nic neprislo, jeste nic, "
                             "nedorazil*, nedoruc*, neprisel",
        "damaged_or_wrong_item": "poskoz*, rozbit*, zlomen*, vadn*, vada, spatn*, jiny, jinou, "
                                 "neni to, prasl*, poskrab*, nefunkcni, nefunguje, nejde, chybi, "
                                 "roztrzen*, promacknut*, spatna velikost, spatne zbozi, misto, "
                                 "namisto, ne to co jsem objednal*, ohnut*, odstipnut*, otlucen*, "
                                 "prasklin*, chybej*, neupln*, skvrn*, spinav*, pouzit*, vybled*, "
                                 "rozmaz*, spatna verze, nekvalitn*, odlepuj*, plisen*, "
                                 "neodpovida, nahrad*, reklamac*, reklamuj*",
        "cancel_order": "zrus*, storn*, uz nechci, nechci, rozmyslel*, rozmyslela, neodesilejte, "
                        "neposilejte, odvolat, zrusit predplatne, odhlasit odber, ruste, rusit, "
                        "rusim",
        "login_or_password_trouble": "heslo, hesl*, prihlas*, ucet, uctu, uct*, zablokovan*, "
                                     "obnoven*, obnovit, uzivatelsk*, login, overovaci kod, "
                                     "dvoufazov*, dvoufaktor*, overeni*, overovac*",
        "download_trouble": "stahn*, stahov*, stazen*, soubor*, odkaz*, otevr*, pdf, zip, e kniha, "
                            "ekniha, eknih*, poskozeny soubor, licencni klic, vyprsel*, "
                            "odkaz nefunguje, nefunguje odkaz, nefunkcni odkaz",
        "product_question": "mate, mate skladem, skladem, velikost*, kompatibil*, material*, "
                            "dotaz*, otazk*, rozmer*, hodi se, je to, jaky, jaka, jake, kolik, "
                            "pred koupi, vodeodoln*, dostupn*, lze, muzu, da se, format*, "
                            "nainstalovat na, funguje na, bezi na, licence na",
        "billing_or_charge_dispute": "strz*, strh*, dvakrat, dvojit*, faktur*, platb*, zaplat*, "
                                     "karta, kart*, castka, castku, predplat*, uctov*, vypis*, "
                                     "naucto*, doklad*, dph, poplat*, navic, bank*, cena, cenu, "
                                     "moneyx, kc, korun*, doplat*",
        "other": "newsletter, odhlas*, zivotopis, brigad*, spolupra*, velkoobchod*, adres*, "
                 "zmena adresy, recenz*, hodnoceni, gdpr, oteviraci doba, telefon*",
        "thanks_or_praise": "dekuj*, dik*, diky, skvel*, vyborn*, spokojen*, super, perfektni, "
                            "pochval*, uzasn*, bajecn*, paradni, podekov*, podekovani, pochvala, "
                            "oblibene, kvalit*, doporuc*, vdecn*, radost*, krasn*, ochotn*, "
                            "0 hvezd, pet hvezd, moc hezk*, libi, libil*",
    },
    "et": {
        "refund_request": "raha tagasi, tagasimakse*, tagastus*, tagasta*, huvit*, raha, mu raha, "
                          "minu raha, tagasi maks*, saada tagasi",
        "where_is_my_order": "kus on minu tellimus, kus mu tellimus, kus on mu, kus on, pakk*, "
                             "tarn*, jalgimis*, saadetis*, millal, ei ole kohale, pole kohale, "
                             "pole saabunud, ei ole saabunud, kuller*, postiautomaat*, omniva, "
                             "itella, teel, ikka veel, siiani, kui kaua, pole midagi saanud, "
                             "ei ole midagi saanud, ei joudnud, pole kohale joudnud, "
                             "ei ole kohale joudnud",
        "damaged_or_wrong_item": "kahjust*, katki, purunenud, puruks, defekt*, vale*, vale toode, "
                                 "vale suurus, mitte see, kriimust*, moranenud, rebenenud, "
                                 "ei toota, puudu, praak*, viga*, asemel, mitte see mida tellisin, "
                                 "kortsus, moolitud, moranen*, pragu*, moolik*, puuduv*, "
                                 "mittetaielik*, plekk*, plekiline, kasutatud, pleekinud, hagune, "
                                 "vale versioon, halb kvaliteet, kehv*, hallitus*, ei vasta, "
                                 "asendus*, vahetus*, vaheta*, reklamatsioon*, pretensioon*",
        "cancel_order": "tuhist*, tuhista*, loobu*, ei soovi enam, ei taha enam, ara saatke, "
                        "ara saada, meelt muutnud, muutsin meelt, katkest*, tellimuse tuhist*, "
                        "lopetada tellimus, lopeta*",
        "login_or_password_trouble": "parool*, sisse logi*, sisselogimi*, sisse ei saa, konto*, "
                                     "kasutaja*, salasona*, lukus, logi*, lahtest*, kinnituskood*, "
                                     "kaheastmeli*, kahefaktori*, kinnitus*, autentimi*",
        "download_trouble": "allalaadi*, alla laadi*, alla ei laadi, laadi*, laadima, fail*, "
                            "link*, lingi*, avada, ei avane, pdf, zip, e raamat*, raamat*, "
                            "litsentsivoti, aegunud, link ei toota, lingid ei toota, link ei ava",
        "product_question": "kas teil on, kas see, kas on, laos, suurus*, sobib, sobiks, "
                            "materjal*, kusimus*, moot*, uhildu*, milline, mitu, kui suur, "
                            "enne ostu, veekindel, saadaval, kas saab, kas saan, formaat*, "
                            "vormingu*, paigaldada, tootab macis, litsents* kahel, kas sobib",
        "billing_or_charge_dispute": "kaks korda, kahekordselt, topelt*, arve*, makse*, kaart*, "
                                     "summa*, maha voetud, voeti maha, kontolt, tasu*, "
                                     "pangakaart*, valjavote, kaibemaks, tellimus maksti, *tasu, "
                                     "teenustasu, lisatasu, pank*, hind*, moneyx, eurot, "
                                     "juurde makse*",
        "other": "uudiskiri*, loobu uudiskirjast, cv, toopakkumi*, kandideeri*, koostoo*, hulgi*, "
                 "aadress*, aadressi muutmine, arvustus*, tagasiside, telefon*, lahtioleku*",
        "thanks_or_praise": "aitah, tanan, tanu*, suureparane, suurepara*, super, rahul, "
                            "vaga rahul, tore, kiitus*, imeline, vaga hea, parim, komplimen*, "
                            "jatkake samas vaimus, lemmik*, kvaliteet*, soovita*, tanulik, "
                            "roomus*, roomu, ilus*, meeldiv*, abivalmi*, 0 tarni, viis tarni, "
                            "meeldib, meeldis",
    },
}

INTENTS_WITH_CUES = tuple(CUES["en"])

# a token pattern: (kind, text) with kind "=" exact, "^" prefix, "~" contains
Pattern = tuple[tuple[str, str], ...]


def _compile(entry: str) -> Pattern | None:
    parts: list[tuple[str, str]] = []
    for piece in entry.split():
        lead, trail = piece.startswith("*"), piece.endswith("*")
        # split and compared like the text: folded, any digit run is "0"
        subs = tokens(fold(piece.strip("*")).replace("_", " "), digits_as_zero=True)
        for j, sub in enumerate(subs):
            if lead and j == 0:
                parts.append(("~", sub))
            elif trail and j == len(subs) - 1:
                parts.append(("^", sub))
            else:
                parts.append(("=", sub))
    return tuple(parts) or None


def _token_ok(kind: str, text: str, token: str) -> bool:
    if kind == "=":
        return token == text
    if kind == "^":
        return token.startswith(text)
    return text in token


class KeywordMatcher:
    """Finds the cue entries in a folded token list; returns hits per intent."""

    def __init__(self, cues: dict[str, dict[str, str]]):
        self.exact: dict[str, list[tuple[str, Pattern]]] = {}
        self.prefix: dict[str, list[tuple[str, Pattern]]] = {}
        self.contains: list[tuple[str, Pattern]] = []
        self.max_prefix = 0
        seen = set()
        for by_intent in cues.values():
            for intent, entries in by_intent.items():
                for entry in entries.split(","):
                    pattern = _compile(entry.strip())
                    if pattern is None or (intent, pattern) in seen:
                        continue
                    seen.add((intent, pattern))
                    kind, text = pattern[0]
                    if kind == "=":
                        self.exact.setdefault(text, []).append((intent, pattern))
                    elif kind == "^":
                        self.prefix.setdefault(text, []).append((intent, pattern))
                        self.max_prefix = max(self.max_prefix, len(text))
                    else:
                        self.contains.append((intent, pattern))

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> KeywordMatcher:
        return cls(CUES)

    def positions(self, words: list[str]) -> list[tuple[str, int, int]]:
        """(intent, index of the first word, number of words) of every cue hit."""
        found: list[tuple[str, int, int]] = []
        n = len(words)
        for i, word in enumerate(words):
            candidates = list(self.exact.get(word, ()))
            for k in range(1, min(len(word), self.max_prefix) + 1):
                more = self.prefix.get(word[:k])
                if more:
                    candidates.extend(more)
            for intent, pattern in self.contains:
                if pattern[0][1] in word:
                    candidates.append((intent, pattern))
            for intent, pattern in candidates:
                if i + len(pattern) > n:
                    continue
                if all(_token_ok(kind, text, words[i + j])
                       for j, (kind, text) in enumerate(pattern[1:], 1)):
                    found.append((intent, i, len(pattern)))
        return found

    def match(self, words: list[str]) -> dict[str, int]:
        """{intent: number of cue hits} in the words of a text
        (``tokens(fold(text), digits_as_zero=True)``)."""
        hits: dict[str, int] = {}
        for intent, _, _ in self.positions(words):
            hits[intent] = hits.get(intent, 0) + 1
        return hits
