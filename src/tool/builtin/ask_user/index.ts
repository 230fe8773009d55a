import { z } from "zod";
import { describeError } from "../../../errors.ts";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { failure } from "../env.ts";

const Input = z.object({
  question: z.string().min(1).describe("The question for the user."),
  options: z.array(z.string().min(1)).max(10).optional().describe("Suggested answers."),
});

/** `ask_user`: emits `user_input_requested` through the engine and waits for `user_input_answer`. */
export function askUserTool(): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "ask_user",
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    concurrencySafe: false,
    // Waiting for a person is not bounded by the engine's tool timeout.
    timeoutMs: 0,
    async execute(input, ctx) {
      if (!ctx.askUser) {
        return failure(
          "No user can answer questions in this session. Make a reasonable choice, state your assumption, and continue.",
        );
      }
      try {
        return `The user answered: ${await ctx.askUser(input.question, input.options)}`;
      } catch (err) {
        return failure(`The question was not answered: ${describeError(err)}.`);
      }
    },
  });
}
