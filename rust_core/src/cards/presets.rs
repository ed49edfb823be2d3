//! The six preset decks. Each is one faction plus neutrals, 30 cards.

use super::CardId;

/// (name, 30 card ids) for each preset deck, in the order GAME.md lists them.
// Hand-aligned (copies of a card share a line, names in one column): rustfmt would scatter the comments.
#[rustfmt::skip]
pub static PRESETS: &[(&str, [CardId; 30])] = &[
    (
        "argentum_control",
        [
            // curve: 1:2, 2:7, 3:10, 4:4, 5:4, 6:1, 7:1, 8:1
            1, 1,      // 1  Bastion Recruit
            4, 4,      // 2  Tower Shieldbearer
            5,         // 2  Burnished Warden
            6, 6,      // 2  Chapel Mender
            33,        // 2  Sanctum Bell
            138,       // 2  Ember Javelin
            8, 8,      // 3  Gatewarden
            10, 10,    // 3  Tower Cleric
            28, 28,    // 3  Silver Verdict
            29,        // 3  Sanctuary Light
            34,        // 3  Citadel Walls
            35,        // 3  Garrison Gate
            139,       // 3  Scholar's Insight
            13, 13,    // 4  Vault Sentinel
            15,        // 4  Bulwark Engineer
            16,        // 4  Oathsworn Guardian
            19,        // 5  Argent Ballista
            30,        // 5  Radiant Purge
            31, 31,    // 5  Final Judgement
            20,        // 6  Shieldwall Captain
            23,        // 7  Vault Colossus
            24,        // 8  Aurelia, the Unbroken Wall
        ],
    ),
    (
        "argentum_midrange",
        [
            // curve: 1:6, 2:9, 3:7, 4:4, 5:2, 6:2
            2, 2,      // 1  Gleaming Aspirant
            25,        // 1  Aegis Blessing
            116, 116,  // 1  Village Watchman
            135,       // 1  Expose Weakness
            3, 3,      // 2  Lance Cadet
            5, 5,      // 2  Burnished Warden
            26,        // 2  Hold the Line
            27, 27,    // 2  Reforge
            32,        // 2  Silver Standard
            138,       // 2  Ember Javelin
            7, 7,      // 3  Mirror Squire
            9, 9,      // 3  Quicksilver Duelist
            11,        // 3  Silverwork Hound
            12,        // 3  Mourning Knight
            28,        // 3  Silver Verdict
            14, 14,    // 4  Mithril Charger
            17,        // 4  Truthseeker Inquisitor
            36,        // 4  Forge of Valor
            18, 18,    // 5  Mirrorplate Paladin
            21,        // 6  Phalanx Commander
            22,        // 6  Vessa, the Silver Lance
        ],
    ),
    (
        "symbiote_aggro",
        [
            // curve: 1:11, 2:9, 3:5, 4:3, 5:2
            37,        // 1  Skitterling
            38, 38,    // 1  Venomfang Larva
            39, 39,    // 1  Mossback Grub
            40, 40,    // 1  Gnawing Tick
            63, 63,    // 1  Bile Lash
            116, 116,  // 1  Village Watchman
            41,        // 2  Spore Mite
            42, 42,    // 2  Razorwing
            44, 44,    // 2  Hive Drone
            45,        // 2  Brood Nurse
            71,        // 2  Feeding Grounds
            119, 119,  // 2  Tinker's Sparkbox
            48,        // 3  Lurking Stinger
            50, 50,    // 3  Bloatfly
            68,        // 3  Corrosive Spray
            69,        // 3  Spawning Surge
            52, 52,    // 4  Chitin Brute
            70,        // 4  Mutagenic Bloom
            58, 58,    // 5  Leaping Reaver
        ],
    ),
    (
        "symbiote_tempo",
        [
            // curve: 1:4, 2:9, 3:9, 4:4, 5:1, 6:2, 8:1
            39, 39,    // 1  Mossback Grub
            63,        // 1  Bile Lash
            67,        // 1  Rapid Molt
            43, 43,    // 2  Thornback Crawler
            45, 45,    // 2  Brood Nurse
            46,        // 2  Symbiotic Host
            73,        // 2  Carrion Totem
            74,        // 2  Chitin Nest
            75,        // 2  Hive Nexus
            138,       // 2  Ember Javelin
            47, 47,    // 3  Swarmcaller
            48,        // 3  Lurking Stinger
            49, 49,    // 3  Acid Spitter
            51,        // 3  Gene Weaver
            68,        // 3  Corrosive Spray
            69,        // 3  Spawning Surge
            124,       // 3  Spellbreaker
            53,        // 4  Frenzied Mantis
            54,        // 4  Gorging Maw
            55,        // 4  Splitter Ooze
            56,        // 4  Plague Carrier
            57,        // 5  Blightspreader
            59,        // 6  Bonecrusher Beetle
            60,        // 6  Vethrax, Hive Mother
            62,        // 8  Zhaal, the Endless Maw
        ],
    ),
    (
        "obsidion_burst",
        [
            // curve: 1:4, 2:12, 3:9, 4:5
            78, 78,    // 1  Cinder Wisp
            116, 116,  // 1  Village Watchman
            79,        // 2  Duskblade
            80, 80,    // 2  Blood Moth
            81, 81,    // 2  Gloom Phantom
            83, 83,    // 2  Cult Bloodpriest
            104, 104,  // 2  Night Lash
            112,       // 2  Moonless Shrine
            119, 119,  // 2  Tinker's Sparkbox
            84, 84,    // 3  Veiled Assassin
            85, 85,    // 3  Void Lancer
            86, 86,    // 3  Soul Leech
            89,        // 3  Hex Ritualist
            105, 105,  // 3  Soul Drain
            90,        // 4  Obsidian Reaper
            91, 91,    // 4  Umbral Prowler
            93,        // 4  Eclipse Herald
            108,       // 4  Umbral Burst
        ],
    ),
    (
        "obsidion_control",
        [
            // curve: 1:4, 2:6, 3:7, 4:2, 5:6, 6:1, 7:2, 8:1, 9:1
            76, 76,    // 1  Shadow Acolyte
            116, 116,  // 1  Village Watchman
            80, 80,    // 2  Blood Moth
            82, 82,    // 2  Grave Whisperer
            110,       // 2  Altar of Blood
            118,       // 2  Warded Mystic
            87,        // 3  Hexblade
            89,        // 3  Hex Ritualist
            105, 105,  // 3  Soul Drain
            106,       // 3  Mark of Oblivion
            113,       // 3  Crypt of Echoes
            139,       // 3  Scholar's Insight
            92,        // 4  Shadow Puppeteer
            93,        // 4  Eclipse Herald
            94, 94,    // 5  Dread Wraith
            95,        // 5  Necrotic Harvester
            96,        // 5  Sanguine Knight
            107, 107,  // 5  Assassinate
            97,        // 6  Void Stalker
            98,        // 7  Dusk Executioner
            99,        // 7  Maltheus, the Soulrender
            109,       // 8  Black Eclipse
            100,       // 9  Ysolde Nightveil
        ],
    ),
];
