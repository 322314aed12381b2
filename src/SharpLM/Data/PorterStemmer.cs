namespace SharpLM.Data;

/// <summary>
/// The Porter (1980) stemming algorithm, the one rouge-score and NLTK use. Written by hand: no maintained .NET
/// package provides it, and it is short.
/// </summary>
public static class PorterStemmer
{
    public static string Stem(string word)
    {
        if (word.Length <= 2)
            return word;
        var w = new Word(word.ToCharArray());
        w.Step1ab();
        w.Step1c();
        w.Step2();
        w.Step3();
        w.Step4();
        w.Step5();
        return new string(w.B, 0, w.K + 1);
    }

    sealed class Word(char[] b)
    {
        public readonly char[] B = b;
        public int K = b.Length - 1; // end of the current stem (inclusive)
        int _j; // end of the stem before a matched suffix

        bool Cons(int i) =>
            B[i] switch
            {
                'a' or 'e' or 'i' or 'o' or 'u' => false,
                'y' => i == 0 || !Cons(i - 1),
                _ => true,
            };

        // m(): the number of VC sequences in B[0.._j].
        int M()
        {
            int n = 0,
                i = 0;
            while (true)
            {
                if (i > _j)
                    return n;
                if (!Cons(i))
                    break;
                i++;
            }
            i++;
            while (true)
            {
                while (true)
                {
                    if (i > _j)
                        return n;
                    if (Cons(i))
                        break;
                    i++;
                }
                i++;
                n++;
                while (true)
                {
                    if (i > _j)
                        return n;
                    if (!Cons(i))
                        break;
                    i++;
                }
                i++;
            }
        }

        bool VowelInStem()
        {
            for (int i = 0; i <= _j; i++)
                if (!Cons(i))
                    return true;
            return false;
        }

        bool DoubleC(int j) => j >= 1 && B[j] == B[j - 1] && Cons(j);

        bool Cvc(int i) => i >= 2 && Cons(i) && !Cons(i - 1) && Cons(i - 2) && B[i] is not ('w' or 'x' or 'y');

        bool Ends(string s)
        {
            int l = s.Length;
            if (l > K + 1)
                return false;
            for (int i = 0; i < l; i++)
                if (B[K - l + 1 + i] != s[i])
                    return false;
            _j = K - l;
            return true;
        }

        void SetTo(string s)
        {
            for (int i = 0; i < s.Length; i++)
                B[_j + 1 + i] = s[i];
            K = _j + s.Length;
        }

        void R(string s)
        {
            if (M() > 0)
                SetTo(s);
        }

        public void Step1ab()
        {
            if (B[K] == 's')
            {
                if (Ends("sses"))
                    K -= 2;
                else if (Ends("ies"))
                    SetTo("i");
                else if (K >= 1 && B[K - 1] != 's')
                    K--;
            }
            if (Ends("eed"))
            {
                if (M() > 0)
                    K--;
            }
            else if ((Ends("ed") || Ends("ing")) && VowelInStem())
            {
                K = _j;
                if (Ends("at"))
                    SetTo("ate");
                else if (Ends("bl"))
                    SetTo("ble");
                else if (Ends("iz"))
                    SetTo("ize");
                else if (DoubleC(K))
                {
                    if (B[K] is not ('l' or 's' or 'z'))
                        K--;
                }
                else
                {
                    _j = K;
                    if (M() == 1 && Cvc(K))
                        SetTo("e");
                }
            }
        }

        public void Step1c()
        {
            if (Ends("y") && VowelInStem())
                B[K] = 'i';
        }

        static readonly (string, string)[] Step2Rules =
        [
            ("ational", "ate"),
            ("tional", "tion"),
            ("enci", "ence"),
            ("anci", "ance"),
            ("izer", "ize"),
            ("bli", "ble"),
            ("alli", "al"),
            ("entli", "ent"),
            ("eli", "e"),
            ("ousli", "ous"),
            ("ization", "ize"),
            ("ation", "ate"),
            ("ator", "ate"),
            ("alism", "al"),
            ("iveness", "ive"),
            ("fulness", "ful"),
            ("ousness", "ous"),
            ("aliti", "al"),
            ("iviti", "ive"),
            ("biliti", "ble"),
            ("logi", "log"),
        ];
        static readonly (string, string)[] Step3Rules =
        [
            ("icate", "ic"),
            ("ative", ""),
            ("alize", "al"),
            ("iciti", "ic"),
            ("ical", "ic"),
            ("ful", ""),
            ("ness", ""),
        ];
        static readonly string[] Step4Suffixes =
        [
            "al",
            "ance",
            "ence",
            "er",
            "ic",
            "able",
            "ible",
            "ant",
            "ement",
            "ment",
            "ent",
            "ion",
            "ou",
            "ism",
            "ate",
            "iti",
            "ous",
            "ive",
            "ize",
        ];

        public void Step2()
        {
            if (K > 0)
                foreach (var (s, r) in Step2Rules)
                    if (Ends(s))
                    {
                        R(r);
                        return;
                    }
        }

        public void Step3()
        {
            foreach (var (s, r) in Step3Rules)
                if (Ends(s))
                {
                    R(r);
                    return;
                }
        }

        public void Step4()
        {
            if (K < 1)
                return;
            foreach (string s in Step4Suffixes)
            {
                if (!Ends(s))
                    continue;
                if (s == "ion" && !(_j >= 0 && B[_j] is 's' or 't'))
                    return;
                if (M() > 1)
                    K = _j;
                return;
            }
        }

        public void Step5()
        {
            _j = K;
            if (B[K] == 'e')
            {
                _j = K - 1;
                int a = M();
                if (a > 1 || (a == 1 && !Cvc(K - 1)))
                    K--;
            }
            _j = K;
            if (B[K] == 'l' && DoubleC(K) && M() > 1)
                K--;
        }
    }
}
