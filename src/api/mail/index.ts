// Methods of the mail area. Add each method file here.

import type { MethodDef } from "../method.js";
import { mailConfigMethod } from "./config.js";
import { mailUpdate } from "./update.js";
import { mailSend } from "./send.js";
import { mailQueue } from "./queue.js";

export const mailMethods: MethodDef[] = [mailConfigMethod, mailUpdate, mailSend, mailQueue];
