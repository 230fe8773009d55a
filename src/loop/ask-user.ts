import { z } from "zod";
import { defineTool, type Tool } from "../tool/define.ts";

/** Name of the tool that asks the user a question. */
export const ASK_USER = "ask_user";

/**
 * The `ask_user` tool: the model asks the user a question and the turn waits for the
 * answer (`user_input_requested`, answered by a `user_input_answer` op). The answer is the
 * tool's output. A turn waiting here survives a process restart: reopening the thread
 * re-asks under the same request id. Without anyone to ask (a non-interactive engine) the
 * model is told so. It waits without a time limit unless `timeoutMs` is given.
 */
export function askUserTool(
  options: { readonly timeoutMs?: number } = {},
): Tool<{ question: string; options?: string[] | undefined }> {
  return defineTool({
    name: ASK_USER,
    description:
      "Ask the user a question and wait for the answer. Use it when you cannot proceed without information " +
      "or a decision only the user has. Offer `options` when the answer is one of a few choices.",
    schema: z.object({
      question: z.string().min(1).describe("The question, self-contained."),
      options: z.array(z.string()).optional().describe("Suggested answers, if the choice is closed."),
    }),
    readOnly: true,
    concurrencySafe: false,
    timeoutMs: options.timeoutMs ?? 0,
    execute: async ({ question, options: choices }, ctx) => {
      if (!ctx.askUser)
        return {
          output: "No one can answer questions in this session; proceed with your best judgement.",
          isError: true,
        };
      const answer = await ctx.askUser(question, choices);
      return answer;
    },
  });
}
