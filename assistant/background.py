"""Sentences about nothing in particular: the yardstick for "how similar is similar" to a question.

An embedding model's cosines have a floor that moves with the question (e5's sit in 0.75-0.90
for related and unrelated text alike, lower across languages). A question's mean cosine with
these everyday news sentences, on unrelated subjects and written for this purpose, is that
floor; the best passage counts as evidence when it stands clearly above it
(`abstain_dense_margin`). Changing the sentences changes the calibration: re-run
scripts/abstention_scores.py and docs/benchmarks.md's abstention figures.
"""

REFERENCE_SENTENCES: tuple[str, ...] = (
"Le gouvernement a présenté mercredi son projet de budget pour l'année prochaine.",
"L'équipe de France de football s'est qualifiée pour la finale après une victoire aux tirs au but.",
"Les prix de l'immobilier ont encore augmenté dans les grandes villes au troisième trimestre.",
"Un violent orage a provoqué des inondations dans plusieurs communes du sud-ouest.",
"Le festival de cinéma a récompensé un premier film tourné avec un budget modeste.",
"Des chercheurs ont découvert une nouvelle espèce de grenouille dans la forêt amazonienne.",
"La banque centrale a décidé de maintenir ses taux directeurs inchangés.",
"Le procès de l'ancien maire pour corruption s'est ouvert lundi devant le tribunal.",
"Les syndicats appellent à une grève nationale dans les transports jeudi.",
"Le constructeur automobile va supprimer plusieurs centaines d'emplois en Europe.",
"Une exposition consacrée à l'impressionnisme attire des milliers de visiteurs à Paris.",
"Le nombre de cas de grippe progresse dans toutes les régions selon les autorités sanitaires.",
"La start-up a levé vingt millions d'euros pour développer son application.",
"Le président a reçu son homologue pour évoquer la coopération économique entre les deux pays.",
"Un incendie s'est déclaré dans un entrepôt de la banlieue lyonnaise sans faire de victime.",
"Le cycliste a remporté l'étape de montagne et pris le maillot jaune.",
"Les élèves passeront le baccalauréat selon un nouveau calendrier cette année.",
"La sonde spatiale a transmis les premières images de la surface de la planète.",
"Le chanteur annonce une tournée dans une trentaine de villes à partir de l'automne.",
"Les agriculteurs manifestent contre la baisse des prix du lait.",
"La police a interpellé trois suspects après un cambriolage dans une bijouterie.",
"Le Parlement européen a adopté une directive sur la protection des données.",
"Le musée a rouvert ses portes après deux ans de travaux de rénovation.",
"La compagnie aérienne annule une centaine de vols en raison d'un mouvement social.",
"Les températures devraient dépasser trente degrés ce week-end dans l'est du pays.",
"Le club a recruté un attaquant argentin pour la saison prochaine.",
"Une étude montre que le sommeil des adolescents a diminué en dix ans.",
"Le ministre de la santé a annoncé la création de nouveaux postes d'infirmiers.",
"Le tribunal administratif a suspendu l'arrêté municipal.",
"La production industrielle a reculé de deux pour cent en un mois.",
"Un séisme de magnitude six a frappé la côte sans provoquer de tsunami.",
"Le roman a reçu le prix littéraire le plus prestigieux de l'automne.",
)
