/*
 * Plays random games through the Essence Wars C API and prints the results.
 *
 * Build (after `cargo build --release` in rust_core/):
 *   gcc -std=c99 -Wall -Wextra -I include examples/c/play_random.c \
 *       rust_core/target/release/libessence_wars.a -lpthread -ldl -lm -o play_random
 * Run:
 *   ./play_random [games] [seed]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "essence_wars.h"

/* Prints the library's message for a failed call and exits. */
static void check(EwStatus status, const char *what) {
    if (status != EW_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, ew_status_name(status), ew_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    int games = argc > 1 ? atoi(argv[1]) : 10;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;

    printf("essence_wars %s, observation v%u, %u cards, %u decks\n", ew_version(), ew_obs_version(),
           ew_card_count(), ew_deck_count());

    const char *deck0 = NULL, *deck1 = NULL;
    check(ew_deck_name(0, &deck0), "ew_deck_name");
    check(ew_deck_name(ew_deck_count() > 1 ? 1 : 0, &deck1), "ew_deck_name");

    float obs[EW_OBS_SIZE];
    uint8_t legal[EW_NUM_ACTIONS];
    int wins[3] = {0, 0, 0}; /* player 0, player 1, draws */
    unsigned long total_actions = 0;

    for (int i = 0; i < games; i++) {
        EwGame *game = NULL;
        check(ew_game_new(seed + (uint64_t)i, deck0, deck1, "attrition", &game), "ew_game_new");
        uint8_t done = 0;
        while (!done) {
            check(ew_game_observe(game, obs, EW_OBS_SIZE), "ew_game_observe");
            size_t count = 0;
            check(ew_game_legal_actions(game, legal, sizeof legal, &count), "ew_game_legal_actions");
            uint8_t action = 0;
            check(ew_game_random_action(game, seed * 1000003u + total_actions, &action), "ew_game_random_action");
            float reward = 0.0f;
            check(ew_game_step(game, action, &reward, &done), "ew_game_step");
            total_actions++;
        }
        int32_t winner = -1;
        check(ew_game_winner(game, &winner), "ew_game_winner");
        wins[winner < 0 ? 2 : winner]++;

        if (i == 0) {
            /* Two-call pattern: ask for the size, then render. */
            size_t needed = 0;
            EwStatus st = ew_game_render(game, NULL, 0, &needed);
            if (st != EW_ERR_BUFFER_TOO_SMALL) check(st, "ew_game_render (size)");
            char *text = malloc(needed);
            check(ew_game_render(game, text, needed, &needed), "ew_game_render");
            printf("%s", text);
            free(text);
        }
        check(ew_game_free(game), "ew_game_free");

        /* Errors are reported, never crash: a freed handle is caught. */
        if (i == 0 && ew_game_step(game, 255, NULL, NULL) != EW_ERR_INVALID_HANDLE) {
            fprintf(stderr, "use after free was not detected\n");
            return 1;
        }
    }
    printf("games %d: player 0 won %d, player 1 won %d, draws %d, %lu actions\n", games, wins[0], wins[1],
           wins[2], total_actions);
    return 0;
}
